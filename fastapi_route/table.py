"""The route table: plain records that flow from scan or cache to the runtime."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from .conventions import HANDLER_NAMES, WEBSOCKET, Template

_HANDLERS = frozenset(HANDLER_NAMES)


class RouteEntry(NamedTuple):
    """One method (or the websocket) on one URL, served by the function `method` in `file`.

    A NamedTuple: `run` makes one per route from the cache, so creating it must be cheap.
    """

    method: str  # GET ... OPTIONS, or WEBSOCKET
    path: str  # FastAPI template: /users/{user_id}, /docs/{slug:path}
    file: str  # posix, relative to the project root
    line: int
    params: tuple[str, ...] = ()  # path parameters in URL order, the catch-all last
    catchall: str | None = None
    layouts: tuple[str, ...] = ()  # the _layout.py files that apply, outermost first
    # The statuses the handler's returns show, when it has no return annotation (scan's
    # `returned_statuses`): what OpenAPI documents beside or instead of 200.
    statuses: tuple[int, ...] = ()

    @property
    def is_dynamic(self) -> bool:
        """A route with path parameters, or an optional catch-all at its own URL (SPEC 4:
        catch-alls count as dynamic)."""
        return bool(self.params) or self.catchall is not None

    @property
    def template(self) -> Template:
        """The path taken apart (memoised per path string: cheap, and routes share them)."""
        return Template.parse(self.path, own=True)

    @property
    def is_websocket(self) -> bool:
        return self.method == WEBSOCKET

    @property
    def label(self) -> str:
        """The method as people read it in a route table: WS for the websocket."""
        return "WS" if self.method == WEBSOCKET else self.method

    def under(self, prefix: str) -> RouteEntry:
        """The route served below `prefix` (`/v2`: a static path with no trailing slash, see
        `host.include`): `/items` at `/v2/items`, the root's `/` at `/v2` itself."""
        if not prefix:
            return self
        return self._replace(path=prefix + self.path if self.path != "/" else prefix)

    def to_record(self) -> tuple[Any, ...]:
        """Builtins only, so the cache can be read by an unpickler that admits no globals."""
        return (self.method, self.path, self.file, self.line, list(self.params), self.catchall,
                list(self.layouts), list(self.statuses))

    @classmethod
    def from_record(cls, record: Any) -> RouteEntry:
        """A record from the cache, checked to be exactly what `to_record` writes."""
        if type(record) in (tuple, list) and len(record) == 8:
            method, path, file, line, params, catchall, layouts, statuses = record
            if (
                type(method) is str and method in _HANDLERS
                and type(path) is str and path[:1] == "/"
                and type(file) is str and type(line) is int
                and type(params) is list and type(layouts) is list
                and (catchall is None or type(catchall) is str)
                and type(statuses) is list
                and all(type(s) is int and 100 <= s <= 599 for s in statuses)
            ):
                names, applied = tuple(params), tuple(layouts)
                if all(type(n) is str for n in (*names, *applied)):
                    return cls(method, path, file, line, names, catchall, applied,
                               tuple(statuses))
        raise ValueError(f"malformed route record {record!r}")


def methods_by(routes: Iterable[RouteEntry], key: Literal["file", "path"]) -> dict[str, set[str]]:
    """The methods each route file serves (for the fingerprint), or each URL template has
    handlers for (for a 405's Allow header)."""
    found: dict[str, set[str]] = {}
    for r in routes:
        found.setdefault(r.file if key == "file" else r.path, set()).add(r.method)
    return found


def sort_routes(routes: Iterable[RouteEntry]) -> list[RouteEntry]:
    """Precedence order: static > [param] > [...catchall] at each segment, then method."""
    return sorted(routes, key=precedence)


def precedence(r: RouteEntry) -> tuple[Any, int, str]:
    """A route's place in the table (`sort_routes`): two routes never share one."""
    return (r.template.key, HANDLER_NAMES.index(r.method), r.file)


@dataclass(frozen=True)
class Statistics:
    total_routes: int
    static_routes: int
    dynamic_routes: int
    methods: dict[str, int]

    @classmethod
    def of(cls, routes: Sequence[RouteEntry]) -> Statistics:
        dynamic = sum(1 for r in routes if r.is_dynamic)
        counts = Counter(r.method for r in routes)
        return cls(
            total_routes=len(routes),
            static_routes=len(routes) - dynamic,
            dynamic_routes=dynamic,
            methods={m: counts[m] for m in HANDLER_NAMES if counts[m]},
        )
