"""create_app: a project and a route table (from the cache or a fresh scan) -> a FastAPI app."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from fastapi import FastAPI

from ..config import Config, load_config
from ..conventions import DOCS_FILE
from ..errors import FastAPIRouteError
from ..pipeline import cache as cache_io
from ..pipeline import freshness
from ..pipeline.build import compile_table
from ..project import Project, find_project
from ..table import Route
from . import dispatch as dispatcher
from . import extras
from .appfile import AppFile
from .lazy import register_lazy
from .modules import ProjectModules
from .register import register

Source = Literal["cache", "scan"]
log = logging.getLogger("fastapi_route")


class StaleCacheError(FastAPIRouteError):
    """--strict refuses a cache whose route files changed since the build."""


def resolve_project(project: Project | str | Path | None) -> Project:
    if isinstance(project, Project):
        return project
    return find_project(Path(project) if project is not None else None)


def load_routes(
    project: Project, config: Config, source: Source, strict: bool = False
) -> list[Route]:
    """The route table: verified from the cache (run) or scanned and validated (dev)."""
    if source == "scan":
        return compile_table(project.root, config).routes
    cache = cache_io.load(project.root / config.build.cache_dir, config.route_dir)
    stale = freshness.check(project.root, config, cache, methods=False)
    if stale.stale:
        message = f"the build cache is stale ({stale.describe()})"
        if strict:
            raise StaleCacheError(message[0].upper() + message[1:] + ".", "fastapi-route build")
        log.warning("%s; run 'fastapi-route build'", message)
    return cache.routes


def create_app(
    project: Project | str | Path | None = None,
    *,
    source: Source = "cache",
    config: Config | None = None,
    strict: bool = False,
    lazy: bool | None = None,
    dispatch: bool = True,
) -> FastAPI:
    """A FastAPI app serving the project's routes with the user's own handler functions.

    `lazy` (default: config.py's `lazy`) imports each handler on the first request that
    reaches it instead of at startup. `dispatch=False` leaves Starlette's linear route scan in
    place (for comparisons; the behaviour is the same).
    """
    found = resolve_project(project)
    config = config or load_config(found.root)
    lazy = config.lazy if lazy is None else lazy
    routes = load_routes(found, config, source, strict)
    docs = config.docs_enabled
    modules = ProjectModules(found)
    app_file = AppFile.load(found, modules)
    app = FastAPI(
        title=config.app_name,
        version=config.version,
        description=config.description,
        debug=config.debug,
        openapi_url=config.openapi_url if docs else None,
        docs_url="/docs" if docs and not (found.root / DOCS_FILE).is_file() else None,
        redoc_url="/redoc" if docs else None,
        lifespan=app_file.lifespan,
        exception_handlers=dict(app_file.exception_handlers),
        # Outermost first: CORS, app.py's list, then middleware.py's function.
        middleware=[*extras.cors(config), *app_file.middleware,
                    *extras.project_middleware(found, modules)],
    )
    # Project pages first: a root catch-all route must not shadow a custom /docs.
    extras.install(app, found, config, routes, modules)
    if lazy:
        register_lazy(app, routes, modules)
    else:
        register(app, routes, modules)
    app_file.finish(app)
    # Read by lazy routes (a swap invalidates the dispatcher's views); None: Starlette routes.
    app.state.dispatcher = dispatcher.install(app.router) if dispatch else None
    return app
