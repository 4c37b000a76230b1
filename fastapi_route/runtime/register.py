"""Route table -> FastAPI routes, through FastAPI's own `add_api_route`.

Each route is a FileRoute: an APIRoute that also answers HEAD for GET and names every method
of its path in a 405. Adapting the user's function happens once, in `endpoints`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from ..errors import FastAPIRouteError
from ..table import Route, methods_by
from .endpoints import endpoint_for
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


def handler_of(modules: ProjectModules, r: Route) -> Callable[..., Any]:
    module = modules.load(r.file)
    func = getattr(module, r.method, None)
    if not callable(func):
        raise FastAPIRouteError(
            f"{r.file}:{r.line} {r.method} is not callable after import",
            "the cache may be stale: run 'fastapi-route build'",
        )
    return func  # type: ignore[no-any-return]


def add_route(
    router: APIRouter, r: Route, func: Callable[..., Any], methods: set[str]
) -> FileRoute:
    """FastAPI's own add_api_route (router defaults, dependency graph), as a FileRoute
    appended to `router.routes`; `methods` are all those of the route's path."""
    try:
        endpoint, options = endpoint_for(func, r.catchall)
        options.setdefault("name", f"{r.method} {r.path}")
        router.add_api_route(
            r.path, endpoint, methods=[r.method], route_class_override=FileRoute, **options
        )
    except Exception as exc:  # FastAPI's verdict on a signature, a Depends, an option
        raise FastAPIRouteError(
            f"{r.file}:{r.line} {r.method} {r.path} cannot be registered with FastAPI: "
            f"{type(exc).__name__}: {exc}",
            "fix the handler's parameters, their types, or its @route(...) options",
        ) from exc
    added = router.routes[-1]  # add_api_route appends the route it made
    if not isinstance(added, FileRoute) or added.endpoint is not endpoint:
        raise RuntimeError("FastAPI's add_api_route did not append the route it made")
    added.answers_head = r.method == "GET" and "HEAD" not in methods
    allow = methods | {"HEAD"} if "GET" in methods else methods
    added.allow = ", ".join(sorted(allow))
    return added


def register(app: FastAPI, routes: Sequence[Route], modules: ProjectModules) -> None:
    """Import every handler and add its route, in the table's precedence order."""
    methods = methods_by(routes, "path")
    for r in routes:
        add_route(app.router, r, handler_of(modules, r), methods[r.path])
