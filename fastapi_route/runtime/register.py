"""Route table -> FastAPI routes, through FastAPI's own `add_api_route`.

Each route is a FileAPIRoute: an APIRoute that also answers HEAD for GET and names every method
of its path in a 405. Adapting the user's function happens once, in `endpoints`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ..conventions import WEBSOCKET
from ..errors import FastAPIRouteError
from ..naming import base_operation_id, describe, operation_ids
from ..table import RouteEntry, methods_by
from .activity import REQUESTS
from .endpoints import PathParams, compile_served, endpoint_for, websocket_endpoint_for
from .layouts import NONE, Composed, Layouts
from .modules import ProjectModules
from .refusal import refusal
from .segment_types import Accepts, accepted, own_types_of, register_names


class FileAPIRoute(APIRoute):
    """An APIRoute that answers HEAD for GET (unless the path has a HEAD handler of its own),
    lists every method of its path in a 405's Allow header (RFC 9110), and runs its layouts'
    middleware around its app (`fit` says all three); at a project's own segment type it
    matches only what the type accepts (`accepts`, SPEC 14.1)."""

    # Its template says its paths (its `matches` only adds HEAD, and refuses what a project
    # type does not accept): dispatch's trie may index it.
    indexable = True
    allow: str  # every method of the path
    answers_head: bool = False  # a GET route of a path without its own HEAD handler
    accepts: Accepts = ()  # its project types' checks (SPEC 14.1): none for most routes
    served: ASGIApp  # `app` inside the layouts' middleware: what `handle` runs
    methods: set[str]

    def fit(self, path_methods: set[str], layout: Composed) -> None:
        """What the route takes from its table: the methods of its path, and its layouts."""
        self.answers_head = "GET" in self.methods and "HEAD" not in path_methods
        http = path_methods - {WEBSOCKET}
        self.allow = ", ".join(sorted(http | {"HEAD"} if "GET" in http else http))
        # Kept beside FastAPI's `app` rather than replacing it: `app` stays what FastAPI made.
        self.served = layout.wrap(self.app)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if self.accepts and match is not Match.NONE and not accepted(
                self.accepts, child["path_params"]):
            return Match.NONE, {}  # a project type's `match` said no: the next route's turn
        if match is Match.PARTIAL and self.answers_head and scope["method"] == "HEAD":
            return Match.FULL, child
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method in self.methods or (method == "HEAD" and self.answers_head):
            await REQUESTS.serving(self.served, scope, receive, send)  # the warm-up waits
            return
        # The app's exception handling answers it, as for any HTTPException.
        raise HTTPException(status_code=405, headers={"Allow": self.allow})


class OwnTypedWebSocketRoute(APIWebSocketRoute):
    """FastAPI's websocket route of a path with a project type: matches only what the type
    accepts (FastAPI's router makes an APIWebSocketRoute; `Registrar.add` makes it this)."""

    indexable = True  # its template says its paths; `matches` only refuses more: dispatch
    accepts: Accepts = ()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and not accepted(self.accepts, child["path_params"]):
            return Match.NONE, {}
        return match, child


# A handler the table has but its file lacks: the table was built from another version of it.
_STALE = "the cache may be stale: run 'fastapi-route build'"


def _same(last: Sequence[RouteEntry], routes: Sequence[RouteEntry]) -> bool:
    return len(last) == len(routes) and all(map(operator.is_, last, routes))


class _Change(NamedTuple):
    """The records of a table that are not (by identity) in the last one, and the reverse."""

    came: list[RouteEntry]
    gone: list[RouteEntry]

    @classmethod
    def of(cls, last: Sequence[RouteEntry], routes: Sequence[RouteEntry]) -> _Change:
        before, now = set(map(id, last)), set(map(id, routes))
        return cls([r for r in routes if id(r) not in before],
                   [r for r in last if id(r) not in now])

    def few(self, routes: Sequence[RouteEntry]) -> bool:
        return len(self.came) + len(self.gone) <= len(routes) // 8


def _methods_since(last: dict[str, set[str]], change: _Change,
                   routes: Sequence[RouteEntry]) -> dict[str, set[str]]:
    """`methods_by(routes, "path")`, from the last table's: the paths a record came to or
    left get new sets (a path has one route per method), the others keep theirs (made and
    frozen already, nothing new for the collector to walk after the swap)."""
    if not change.few(routes):
        return methods_by(routes, "path")
    methods = dict(last)
    for path in {r.path for r in (*change.came, *change.gone)}:
        found = set(last.get(path, ()))
        found.difference_update(r.method for r in change.gone if r.path == path)
        found.update(r.method for r in change.came if r.path == path)
        if found:
            methods[path] = found
        else:
            del methods[path]
    return methods


_SUFFIXED = re.compile(r"_[0-9]+$")


def _ids_since(last: dict[int, str], change: _Change,
               routes: Sequence[RouteEntry]) -> dict[int, str] | None:
    """`operation_ids(routes)` (by record id), from the last table's, when the change cannot
    move a suffix: a route that left had its words as its id, shared them with no other and
    took no number (`_2`) another one's might have skipped; a route that came has words no
    route has as its id. Else None: worked out whole (ids follow the table's order)."""
    if not change.few(routes):
        return None
    ids = dict(last)  # ints and strs: not tracked
    taken = set(last.values())
    for r in change.gone:
        name = ids.pop(id(r), None)
        if name is not None and (name != base_operation_id(r) or _SUFFIXED.search(name)
                                 or f"{name}_2" in taken):
            return None
        taken.discard(name)
    for r in change.came:
        if r.is_websocket:
            continue  # OpenAPI does not describe websockets
        name = base_operation_id(r)
        if name in taken:
            return None
        ids[id(r)] = name
        taken.add(name)
    return ids


class Registrar:
    """Adds routes of one table to an app: what every route needs from the whole table (the
    methods of its path, its operation id) and its layouts, worked out once."""

    def __init__(self, app: FastAPI, routes: Sequence[RouteEntry], modules: ProjectModules,
                 base: Composed = NONE,
                 last: tuple[Registrar, Sequence[RouteEntry]] | None = None) -> None:
        """`last`: the registrar of the table this one replaces, and that table (`dev`): its
        methods (and, for a table equal to it, its operation ids) are taken where they hold."""
        self.router = app.router
        self.modules = modules
        self.layouts = Layouts(modules, base)
        self.methods: dict[str, set[str]]
        # By the record's id (the table holds the records): a dict of ints and strs, which
        # the garbage collector does not track (dev makes one for 19,600 routes at a new URL).
        self.operation_ids: dict[int, str]
        ids = None
        if last is None:
            self.methods = methods_by(routes, "path")
        elif _same(last[1], routes):  # a save that changed no record
            self.methods, ids = last[0].methods, last[0].operation_ids
        else:
            change = _Change.of(last[1], routes)
            self.methods = _methods_since(last[0].methods, change, routes)
            ids = _ids_since(last[0].operation_ids, change, routes)
        self.operation_ids = ids if ids is not None else {
            id(r): name for r, name in operation_ids(routes).items()}

    def add(self, r: RouteEntry) -> BaseRoute:
        """Import the handler and build its route with the router's own `add_api_route` (or
        `add_api_websocket_route`), so the router's defaults apply; the route is taken back
        out of the router's list and returned, for the caller to place."""
        func = self.modules.function(r.file, r.method, line=r.line, hint=_STALE)
        layout = self.layouts.compose(r.layouts)
        endpoint: Any = None
        accepts: Accepts = ()
        url = PathParams.of(r)
        if own_types_of(r.template):  # a project's own segment types (SPEC 14.1)
            register_names(r.template)
            accepts = self.modules.types.accepts(r.template)
            url = PathParams.of(r, self.modules.types.documented(r.template))
        try:
            if r.is_websocket:
                endpoint, own = websocket_endpoint_for(func, url)
            else:
                endpoint, own = endpoint_for(func, url, r.statuses)
            (self._add_websocket if r.is_websocket else self._add_http)(
                r, func, endpoint, own, layout)
        except Exception as exc:  # FastAPI's verdict on a signature, a Depends, an option
            raise refusal(r, func, endpoint, exc) from exc
        added = self._take(endpoint, r)
        if isinstance(added, (Route, WebSocketRoute)):  # APIRoute, APIWebSocketRoute
            # What FastAPI compiled with Starlette's convertors, again with the segment-type
            # table's (its path, its format unchanged): a value the type does not accept does
            # not match, HTTP and websocket alike, instead of raising in Starlette's `convert`.
            added.path_regex, added.path_format, added.param_convertors = compile_served(
                added.path)
        if isinstance(added, FileAPIRoute):
            added.fit(self.methods[r.path], layout)
            added.accepts = accepts
        elif accepts and type(added) is APIWebSocketRoute:
            added.__class__ = OwnTypedWebSocketRoute  # same object, one method more
            added.accepts = accepts  # type: ignore[attr-defined]
        return added

    def _take(self, endpoint: Any, r: RouteEntry) -> BaseRoute:
        """The route the router just made for `endpoint` (a function made for this call
        alone), removed from the router's list. Found by identity, not by position: where a
        router puts a new route is its own business (FastAPI's append; a subclass may not)."""
        routes = self.router.routes
        for i in range(len(routes) - 1, -1, -1):  # from the end: usually the last one
            if getattr(routes[i], "endpoint", None) is endpoint:
                return routes.pop(i)
        raise FastAPIRouteError(
            f"{r.file}:{r.line} {r.label} {r.path}: the app's router "
            f"({type(self.router).__name__}) did not add the route it made to its routes",
            "a custom router's add_api_route must add the route to `router.routes`",
        )

    def _add_websocket(self, r: RouteEntry, func: Callable[..., Any], endpoint: Any,
                       own: dict[str, Any], layout: Composed) -> None:
        self.router.add_api_websocket_route(
            r.path, endpoint, name=f"websocket {r.path}", **layout.websocket_options(own)
        )

    def _add_http(self, r: RouteEntry, func: Callable[..., Any], endpoint: Any,
                  own: dict[str, Any], layout: Composed) -> None:
        summary, description = describe(func, r)
        endpoint.__doc__ = description  # FastAPI's description when @route gives none
        own.setdefault("summary", summary)
        own.setdefault("operation_id", self.operation_ids[id(r)])
        own.setdefault("name", own["operation_id"])  # for url_for
        self.router.add_api_route(
            r.path, endpoint, methods=[r.method], route_class_override=FileAPIRoute,
            **layout.route_options(own),
        )
