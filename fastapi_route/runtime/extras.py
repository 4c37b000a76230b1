"""The project files around routes/: middleware.py, not-found.py, docs.py, public/, and
config.py's CORS."""

from __future__ import annotations

import inspect
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ..config import Config
from ..conventions import DOCS_FILE, MIDDLEWARE_FILE, NOT_FOUND_FILE
from ..errors import FastAPIRouteError
from ..project import Project
from ..table import RouteEntry, Statistics
from .modules import ProjectModules
from .routepath import get_route_path


class RouteContext:
    """What a not-found.py or docs.py handler may ask about the app."""

    def __init__(self, routes: Sequence[RouteEntry], config: Config) -> None:
        self._routes = routes  # the app's current table (dev replaces its contents)
        self.config = config

    def get_routes(self) -> list[dict[str, Any]]:
        return [
            {"method": r.method, "path": r.path, "is_dynamic": r.is_dynamic, "file": r.file}
            for r in self._routes
        ]

    def get_routes_by_method(self, method: str) -> list[dict[str, Any]]:
        return [r for r in self.get_routes() if r["method"] == method.upper()]

    def get_statistics(self) -> dict[str, Any]:
        stats = Statistics.of(self._routes)
        return {
            "total_routes": stats.total_routes,
            "static_routes": stats.static_routes,
            "dynamic_routes": stats.dynamic_routes,
            "methods": stats.methods,
        }

    def get_project_info(self) -> dict[str, Any]:
        return {"name": self.config.app_name, "version": self.config.version}


def as_response(result: Any, status: int = 200) -> Response:
    """A custom page's return value: a string is HTML, a dict or list JSON."""
    if isinstance(result, Response):
        return result
    if isinstance(result, str):
        return HTMLResponse(result, status_code=status)
    return JSONResponse(jsonable_encoder(result), status_code=status)


async def call_page(
    handler: Callable[..., Any], request: Request, context: RouteContext, status: int = 200
) -> Response:
    if inspect.iscoroutinefunction(handler):
        result = await handler(request, context)
    else:
        result = await run_in_threadpool(handler, request, context)
    return as_response(result, status)


class StaticFiles:
    """Files under public/, served at the URL root only when no route matched.

    The path is resolved and must stay inside public/ after following links; dotfiles and
    dot-folders are never served.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    def find(self, url_path: str) -> Path | None:
        parts = [p for p in url_path.split("/") if p]  # the ASGI path is already decoded
        if not parts or any(p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
            return None
        candidate = os.path.realpath(os.path.join(self.folder, *parts))
        if os.path.commonpath([candidate, str(self.folder)]) != str(self.folder):
            return None
        try:
            if not stat.S_ISREG(os.stat(candidate).st_mode):
                return None
        except OSError:
            return None
        return Path(candidate)


class Fallback:
    """The router's default: a public/ file for GET/HEAD, else the 404 (custom or JSON); a
    websocket nothing matched is refused."""

    def __init__(self, static: StaticFiles | None, not_found: Callable[..., Any] | None,
                 context: RouteContext) -> None:
        self.static = static
        self.not_found = not_found  # not-found.py's handler; None: the app's 404 handler
        self.context = context

    def static_file(self, scope: Scope) -> Path | None:
        """The public/ file this request gets, if it reaches the default."""
        if self.static is None or scope["type"] != "http" or scope["method"] not in (
            "GET", "HEAD"
        ):
            return None
        return self.static.find(get_route_path(scope))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)  # a 403 at the handshake
            return
        found = self.static_file(scope)
        if found is not None:
            await FileResponse(found)(scope, receive, send)
            return
        if self.not_found is None:
            # As FastAPI's own router does: the app's exception handlers (the default one, or
            # an app.py override) answer it.
            raise HTTPException(status_code=404)
        response = await call_page(self.not_found, Request(scope, receive), self.context, 404)
        await response(scope, receive, send)


@dataclass(frozen=True)
class Pages:
    """What `install` added to the app, so the runtime knows them by identity."""

    fallback: Fallback  # the router's default
    docs: BaseRoute | None = None  # the route that serves docs.py's page


def install(
    app: FastAPI, project: Project, config: Config, routes: Sequence[RouteEntry],
    modules: ProjectModules,
) -> Pages:
    """Add the custom pages and static files that the project folder holds."""
    root = project.root
    context = RouteContext(routes, config)
    docs_route: BaseRoute | None = None

    docs_url = config.pages(docs_page=True).docs_url  # config.py's `fastapi["docs_url"]`
    if (root / DOCS_FILE).is_file() and docs_url is not None:
        docs = modules.function(DOCS_FILE, "handler")

        async def custom_docs(request: Request) -> Response:
            return await call_page(docs, request, context)

        app.add_route(docs_url, custom_docs, methods=["GET"], include_in_schema=False)
        docs_route = next(r for r in reversed(app.router.routes)
                          if getattr(r, "endpoint", None) is custom_docs)

    not_found = (
        modules.function(NOT_FOUND_FILE, "handler") if (root / NOT_FOUND_FILE).is_file() else None
    )
    public = root / config.static_dir
    static = StaticFiles(public) if public.is_dir() else None
    fallback = Fallback(static, not_found, context)
    app.router.default = fallback
    return Pages(fallback, docs_route)


def cors(config: Config) -> list[Middleware]:
    """config.py's CORS settings, outermost of all middleware (a preflight is answered first)."""
    if not config.cors_enabled:
        return []
    from starlette.middleware.cors import CORSMiddleware

    return [Middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_credentials=config.cors_allow_credentials,
        allow_methods=list(config.cors_allow_methods),
        allow_headers=list(config.cors_allow_headers),
    )]


def project_middleware(project: Project, modules: ProjectModules) -> list[Middleware]:
    """middleware.py's function, as FastAPI's `@app.middleware("http")` would add it."""
    middleware = middleware_function(project, modules)
    return [] if middleware is None else [Middleware(BaseHTTPMiddleware, dispatch=middleware)]


def middleware_function(project: Project, modules: ProjectModules) -> Callable[..., Any] | None:
    """middleware.py's `async def middleware(request, call_next)`, if the project has one."""
    if not (project.root / MIDDLEWARE_FILE).is_file():
        return None
    middleware = modules.function(MIDDLEWARE_FILE, "middleware")
    if not inspect.iscoroutinefunction(middleware):
        raise FastAPIRouteError(
            f"{MIDDLEWARE_FILE}: middleware must be an async function",
            "write async def middleware(request, call_next): ...",
        )
    return middleware
