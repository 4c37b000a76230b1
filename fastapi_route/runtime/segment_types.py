"""A project's own segment types at runtime (SPEC 14.1): `params/hex.py`, imported with the
routes, decides whether `[color=hex]` takes a URL segment.

The grammar (`conventions.own_type`) knows such a type by name only: one URL segment, typed,
tried after the built-in typed ones in name order. What it accepts is the project's: its
`pattern` (a regex the whole segment must match, tried first) and then its `match(value)`.
Starlette's convertors cannot refuse a value once their regex matched (a `convert` that raises
is a 500), so our route asks in its `matches` (`register.FileAPIRoute`): the route compiles the
segment as one segment of text (`conventions.OWN_SEGMENT`) and, when the path matched, each
value of a project type must be accepted, else the router tries the next route.

Each project has its own `ProjectTypes` (one per `ProjectModules`): two projects in one
process with a `params/hex.py` each never see each other's. What goes into Starlette's global
convertor registry is project-free: one-segment text under our name (`OWN_SEGMENT`), and, for
FastAPI's first compile of a template (`add_api_route`), the same under the type's name when no
convertor has it (the route is compiled again with ours right after: `compile_served`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor

from ..conventions import OWN_SEGMENT, SEGMENT_TYPES, Rank, Template, params_file
from ..errors import FastAPIRouteError

if TYPE_CHECKING:
    from .modules import ProjectModules

_STALE = "the cache may be stale: run 'fastapi-route build'"


class OneSegment(Convertor[str]):
    """One URL segment as text: what a project's own type matches before it is asked."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


def register_names(template: Template) -> None:
    """Make FastAPI's own compile of `template` possible: a name of a project type that no
    convertor has yet gets the project-free `OneSegment` (never replacing an app's own)."""
    for _, kind in template.params:
        if kind.name not in SEGMENT_TYPES and kind.name not in CONVERTOR_TYPES:
            register_url_convertor(kind.name, OneSegment())


if OWN_SEGMENT not in CONVERTOR_TYPES:
    register_url_convertor(OWN_SEGMENT, OneSegment())


def own_types_of(template: Template) -> list[tuple[str, str]]:
    """(parameter, project type) of each of a route's segments of a project type."""
    return [(param, kind.name) for param, kind in template.params
            if kind.rank is Rank.TYPED and kind.name not in SEGMENT_TYPES]


@dataclass(frozen=True)
class OwnType:
    """A project type as its file defines it (imported)."""

    name: str
    file: str
    match: Callable[[str], Any]
    pattern: re.Pattern[str] | None
    description: str

    def accepts(self, value: str) -> bool:
        """`pattern` first (the whole segment), then `match`: the segment is this type's."""
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            return False
        return bool(self.match(value))


Accepts = tuple[tuple[str, Callable[[str], bool]], ...]  # (path parameter, its check)


class ProjectTypes:
    """The own segment types of one project, each imported (by its `ProjectModules`, so under
    the project's package like a route file) when first needed."""

    def __init__(self, modules: ProjectModules) -> None:
        self.modules = modules
        self._known: dict[str, OwnType] = {}

    def get(self, name: str) -> OwnType:
        """The type `params/<name>.py` defines; a FastAPIRouteError naming the file if it does
        not define what the build saw (it changed since: the cache is stale)."""
        known = self._known.get(name)
        if known is not None:
            return known
        file = params_file(name)
        if not (self.modules.root / file).is_file():
            raise FastAPIRouteError(f"{file} is missing: the routes use [x={name}]", _STALE)
        module = self.modules.load(file)
        match = getattr(module, "match", None)
        pattern = getattr(module, "pattern", None)
        description = getattr(module, "description", "")
        if not callable(match):
            raise FastAPIRouteError(f"{file} has no function named 'match'", _STALE)
        if pattern is not None and not isinstance(pattern, str):
            raise FastAPIRouteError(f"{file}: pattern is not a string", _STALE)
        if not isinstance(description, str):
            raise FastAPIRouteError(f"{file}: description is not a string", _STALE)
        try:
            compiled = None if pattern is None else re.compile(pattern)
        except re.error as exc:
            raise FastAPIRouteError(f"{file}: pattern is not a regular expression: {exc}",
                                    _STALE) from None
        known = self._known[name] = OwnType(name, file, match, compiled, description)
        return known

    def accepts(self, template: Template) -> Accepts:
        """The check of each segment of a project type in a route's template (none for most
        routes: their `matches` then costs nothing more)."""
        return tuple((param, self.get(name).accepts) for param, name in own_types_of(template))

    def documented(self, template: Template) -> dict[str, tuple[str | None, str]]:
        """What OpenAPI says of each parameter of a project type: (pattern, description)."""
        found: dict[str, tuple[str | None, str]] = {}
        for param, name in own_types_of(template):
            kind = self.get(name)
            found[param] = (kind.pattern.pattern if kind.pattern else None, kind.description)
        return found


def accepted(accepts: Accepts, path_params: dict[str, Any]) -> bool:
    """Whether every segment of a project type is accepted by its type."""
    return all(check(path_params[param]) for param, check in accepts)
