"""`_layout.py` files at run time: their settings, composed for each route (SPEC 9).

A layout says for a folder what an `APIRouter` says for its routes. FastAPI's `include_router`
folds router options into each route (dependencies first, tags concatenated, responses
merged), so layouts are folded the same way into the options of `add_api_route`: no router
objects, and FastAPI does everything else itself. FastAPI has no router middleware, so a
layout's `middleware` wraps the matched route's own ASGI app, inside the app's exception
handling; nor router exception handlers, so a layout's `exception_handlers` wrap it too,
inside every layout's middleware (see `handlers`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fastapi import params
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import ASGIApp

from ..errors import FastAPIRouteError
from ..pipeline.declarations import LAYOUT_SETTINGS
from .handlers import Handled, Handlers, is_handlers
from .modules import ProjectModules

MiddlewareFunction = Callable[..., Any]  # async def middleware(request, call_next)


@dataclass(frozen=True)
class Composed:
    """What the layouts above a route say, outermost first; empty without layouts."""

    dependencies: tuple[Any, ...] = ()
    tags: tuple[Any, ...] = ()
    responses: Mapping[Any, Any] | None = None
    deprecated: bool | None = None  # None: no layout says
    include_in_schema: bool = True
    middleware: tuple[MiddlewareFunction, ...] = ()
    exception_handlers: tuple[Handlers, ...] = ()  # HTTP routes only, as SPEC 14.2 says

    def route_options(self, own: dict[str, Any]) -> dict[str, Any]:
        """The route's own options (from `@route`) with the layouts' folded in, as FastAPI
        folds a router's into its routes: the route's last, or winning."""
        options = dict(own)
        if self.dependencies:
            options["dependencies"] = [*self.dependencies, *(own.get("dependencies") or ())]
        if self.tags:
            tags = [*self.tags, *(own.get("tags") or ())]
            options["tags"] = list(dict.fromkeys(tags))  # no repeats, first place kept
        if self.responses:
            options["responses"] = {**self.responses, **(own.get("responses") or {})}
        if self.deprecated is not None:
            options.setdefault("deprecated", self.deprecated)
        if not self.include_in_schema:
            options["include_in_schema"] = False
        return options

    def websocket_options(self, own: dict[str, Any]) -> dict[str, Any]:
        """A websocket route takes dependencies only (as FastAPI's websocket routes)."""
        options = {"dependencies": own["dependencies"]} if own.get("dependencies") else {}
        if self.dependencies:
            options["dependencies"] = [*self.dependencies, *options.get("dependencies", ())]
        return options

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app` inside the layouts' exception handlers (the innermost layout's looked up
        first), inside the layouts' middleware (the outermost layout's outside), so every
        middleware sees the response a handler made, as app.py's middleware does."""
        if self.exception_handlers:
            app = Handled(app, self.exception_handlers[::-1])
        for middleware in reversed(self.middleware):
            app = BaseHTTPMiddleware(app, dispatch=middleware)
        return app


NONE = Composed()


class Layouts:
    """Loads each layout once and composes each chain of layouts once, inside `base` (what
    applies above the root layout: an included tree's middleware.py)."""

    def __init__(self, modules: ProjectModules, base: Composed = NONE) -> None:
        self.modules = modules
        self.base = base
        self._composed: dict[tuple[str, ...], Composed] = {(): base}

    def compose(self, files: tuple[str, ...]) -> Composed:
        composed = self._composed.get(files)
        if composed is None:
            composed = self._composed[files] = _fold(
                [self.base, *(self._read(f) for f in files)])
        return composed

    def _read(self, file: str) -> Composed:
        return read_layout(file, self.modules.load(file))


def read_layout(file: str, module: Any) -> Composed:
    """A layout's settings, each checked by the rule the build applies to a literal
    (`pipeline.declarations`), in the same words: `run` calls this for every layout before it
    binds its port, so a value only the import could tell stops it there."""

    def wrong(name: str) -> FastAPIRouteError:  # what the build could not see
        return LAYOUT_SETTINGS[name].wrong_value(file, getattr(module, name))

    def is_list(value: Any) -> bool:
        return isinstance(value, Sequence) and not isinstance(value, (str, bytes))

    dependencies = getattr(module, "dependencies", ())
    if not is_list(dependencies) or not all(isinstance(d, params.Depends) for d in dependencies):
        raise wrong("dependencies")
    tags = getattr(module, "tags", ())
    if not is_list(tags) or not all(isinstance(t, (str, Enum)) for t in tags):
        raise wrong("tags")
    responses = getattr(module, "responses", None)
    if responses is not None and (not isinstance(responses, Mapping) or not all(
        isinstance(code, (int, str)) and isinstance(response, Mapping)
        for code, response in responses.items()
    )):
        raise wrong("responses")
    deprecated = getattr(module, "deprecated", None)
    if deprecated is not None and not isinstance(deprecated, bool):
        raise wrong("deprecated")
    include = getattr(module, "include_in_schema", True)
    if not isinstance(include, bool):
        raise wrong("include_in_schema")
    middleware = getattr(module, "middleware", None)
    if middleware is not None and not inspect.iscoroutinefunction(middleware):
        raise wrong("middleware")
    handlers = getattr(module, "exception_handlers", {})  # None is wrong, as the build says
    if not is_handlers(handlers):
        raise wrong("exception_handlers")
    return Composed(tuple(dependencies), tuple(tags), responses, deprecated, include,
                    (middleware,) if middleware is not None else (),
                    (Handlers.of(file, handlers),) if handlers else ())


def _fold(layouts: Any) -> Composed:
    """Outer to inner: lists concatenate, responses merge (inner wins), the innermost
    `deprecated` wins, and `include_in_schema = False` anywhere hides the route. Exception
    handlers stay one level per layout: the innermost that has one for an exception wins."""
    result = NONE
    for layout in layouts:
        result = Composed(
            (*result.dependencies, *layout.dependencies),
            tuple(dict.fromkeys((*result.tags, *layout.tags))),
            {**(result.responses or {}), **(layout.responses or {})} or None,
            layout.deprecated if layout.deprecated is not None else result.deprecated,
            result.include_in_schema and layout.include_in_schema,
            (*result.middleware, *layout.middleware),
            (*result.exception_handlers, *layout.exception_handlers),
        )
    return result
