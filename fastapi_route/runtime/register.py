"""Route table -> FastAPI routes, through FastAPI's own `add_api_route`.

Each route is a FileRoute: an APIRoute that also answers HEAD for GET and names every method
of its path in a 405. Adapting the user's function happens once, in `endpoints`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from ..conventions import WEBSOCKET
from ..errors import FastAPIRouteError
from ..naming import describe, operation_ids
from ..table import Route, methods_by
from .endpoints import PathParams, endpoint_for, websocket_endpoint_for
from .layouts import Composed, Layouts
from .modules import ProjectModules


class FileRoute(APIRoute):
    """An APIRoute that answers HEAD for GET (unless the path has a HEAD handler of its own)
    and lists every method of its path in a 405's Allow header (RFC 9110)."""

    allow: str  # every method of the path, set by add_route
    answers_head: bool = False  # a GET route of a path without its own HEAD handler
    methods: set[str]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.PARTIAL and self.answers_head and scope["method"] == "HEAD":
            return Match.FULL, child
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method in self.methods or (method == "HEAD" and self.answers_head):
            await self.app(scope, receive, send)
            return
        # The app's exception handling answers it, as for any HTTPException.
        raise HTTPException(status_code=405, headers={"Allow": self.allow})


# A handler the table has but its file lacks: the table was built from another version of it.
_STALE = "the cache may be stale: run 'fastapi-route build'"


class Registrar:
    """Adds routes of one table to an app: what every route needs from the whole table (the
    methods of its path, its operation id) and its layouts, worked out once."""

    def __init__(self, app: FastAPI, routes: Sequence[Route], modules: ProjectModules) -> None:
        self.router = app.router
        self.modules = modules
        self.methods = methods_by(routes, "path")
        self.operation_ids = operation_ids(routes)
        self.layouts = Layouts(modules)

    def add(self, r: Route) -> BaseRoute:
        """Import the handler, build its route with FastAPI's own `add_api_route` (or
        `add_api_websocket_route`) and return it; the router appends it to its routes."""
        func = self.modules.function(r.file, r.method, line=r.line, hint=_STALE)
        layout = self.layouts.compose(r.layouts)
        try:
            endpoint = (self._add_websocket if r.is_websocket else self._add_http)(
                r, func, layout
            )
        except Exception as exc:  # FastAPI's verdict on a signature, a Depends, an option
            raise FastAPIRouteError(
                f"{r.file}:{r.line} {r.label} {r.path} cannot be registered with FastAPI: "
                f"{type(exc).__name__}: {exc}",
                "fix the handler's parameters, their types, or its @route(...) options",
            ) from exc
        added = self.router.routes[-1]  # the add_api_* methods append the route they made
        if getattr(added, "endpoint", None) is not endpoint:
            raise RuntimeError("FastAPI did not append the route it made")
        if isinstance(added, FileRoute):
            methods = self.methods[r.path]
            added.answers_head = r.method == "GET" and "HEAD" not in methods
            http = methods - {WEBSOCKET}
            added.allow = ", ".join(sorted(http | {"HEAD"} if "GET" in http else http))
            added.app = layout.wrap(added.app)
        return added

    def _add_websocket(self, r: Route, func: Callable[..., Any], layout: Composed) -> Any:
        endpoint, own = websocket_endpoint_for(func, PathParams.of(r))
        self.router.add_api_websocket_route(
            r.path, endpoint, name=f"websocket {r.path}", **layout.websocket_options(own)
        )
        return endpoint

    def _add_http(self, r: Route, func: Callable[..., Any], layout: Composed) -> Any:
        endpoint, own = endpoint_for(func, PathParams.of(r))
        summary, description = describe(func, r)
        endpoint.__doc__ = description  # FastAPI's description when @route gives none
        own.setdefault("summary", summary)
        own.setdefault("operation_id", self.operation_ids[r])
        own.setdefault("name", own["operation_id"])  # for url_for
        self.router.add_api_route(
            r.path, endpoint, methods=[r.method], route_class_override=FileRoute,
            **layout.route_options(own),
        )
        return endpoint
