"""Routes that import their handler on the first request that reaches them (`run --lazy`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import URLPath
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, NoMatchFound, compile_path
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ..table import Route
from .dispatch import get_route_path
from .modules import ProjectModules
from .register import Registrar

log = logging.getLogger("fastapi_route")


class LazyRoute(BaseRoute):
    """Stands in for a route until a request (or a websocket) reaches its path.

    Startup then costs one regex per route. The first request whose path matches imports the
    handler, builds the real route exactly as eager mode would, and puts it in this route's
    place in the router, so from then on the app is the eager app. A handler that fails to
    import answers 500 (a websocket: closed, 1011), and is logged; the other routes are
    unaffected.
    """

    indexable = True  # a plain path route to the dispatcher's trie

    def __init__(self, app: FastAPI, registrar: Registrar, r: Route, position: int) -> None:
        self.app_ref = app
        self.registrar = registrar
        self.record = r
        self.scope_type = "websocket" if r.is_websocket else "http"
        self.position = position  # where it stands in the router's list, to swap it out
        self.path = r.path
        self.name = f"{r.label} {r.path}"
        # The text before the first parameter: a static route is matched by string equality
        # and a dynamic one compiles its regex only once a path starts with this prefix.
        self.prefix = r.path.split("{", 1)[0]
        self.pattern: re.Pattern[str] | None = None
        self.real: BaseRoute | None = None
        self.error: Exception | None = None

    def materialize(self) -> BaseRoute | None:
        if self.real is None and self.error is None:
            try:
                routes = self.app_ref.router.routes
                # Made by the app's own router (its defaults apply), which appends it: take it
                # back off the end before anything else runs (no await in between).
                self.real = self.registrar.add(self.record)
                routes.pop()
            except Exception as exc:
                self.error = exc
                log.error("%s %s cannot be served: %s", self.record.label, self.path, exc,
                          exc_info=exc)
                return None
            routes = self.app_ref.router.routes
            if not (self.position < len(routes) and routes[self.position] is self):
                # routes were inserted before this one since registration: look it up
                self.position = next(i for i, x in enumerate(routes) if x is self)
            routes[self.position] = self.real  # same length: safe while the router iterates
            dispatcher = getattr(self.app_ref.state, "dispatcher", None)
            if dispatcher is not None:
                dispatcher.routes_replaced()
        return self.real

    def _path_matches(self, path: str) -> bool:
        if not self.record.params:
            return path == self.path
        if not path.startswith(self.prefix):
            return False
        if self.pattern is None:
            self.pattern = compile_path(self.path)[0]
        return self.pattern.match(path) is not None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != self.scope_type or not self._path_matches(get_route_path(scope)):
            return Match.NONE, {}
        real = self.materialize()
        if real is None:
            return Match.FULL, {"route": self}
        return real.matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        real = self.materialize()
        if real is not None:
            await real.handle(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocketClose(code=1011)(scope, receive, send)  # 1011: internal error
        else:
            await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        real = self.materialize()
        if real is None:
            raise NoMatchFound(name, path_params)
        return real.url_path_for(name, **path_params)


def materialize_all(app: FastAPI) -> None:
    for existing in list(app.router.routes):
        if isinstance(existing, LazyRoute):
            existing.materialize()


def register_lazy(app: FastAPI, routes: Sequence[Route], modules: ProjectModules) -> None:
    """Add a LazyRoute per route, in the table's precedence order; OpenAPI is built on its
    first request, once every route is real."""
    registrar = Registrar(app, routes, modules)
    start = len(app.router.routes)
    app.router.routes.extend(
        LazyRoute(app, registrar, r, start + i) for i, r in enumerate(routes)
    )
    eager_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        materialize_all(app)
        return eager_openapi()

    app.openapi = openapi  # type: ignore[method-assign]
