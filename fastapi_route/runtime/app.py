"""create_app: a project and a route table (from the cache or a fresh scan) -> a FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI

from ..config import Config, load_config
from ..conventions import DOCS_FILE
from ..errors import FastAPIRouteError
from ..pipeline import cache as cache_io
from ..pipeline import freshness
from ..project import Project, find_project
from ..table import RouteEntry
from . import collector, extras, health, offline_docs
from . import dispatch as dispatcher
from .appfile import AppFile
from .baked_openapi import install as install_baked_openapi
from .dispatch import Dispatcher
from .modules import ProjectModules
from .ondemand import SERVING, ErrorPage, LazyRoute, OnDemandRoutes, Schedule
from .openapi import OpenAPIRoute

if TYPE_CHECKING:  # dev's; `run` neither reads a file nor validates
    from ..pipeline.scan import Facts
    from ..pipeline.validate import Checked

Source = Literal["cache", "scan"]
log = logging.getLogger("fastapi_route")


class StaleCacheError(FastAPIRouteError):
    """--strict refuses a stale cache (`freshness`: a file added or removed, a method or a
    handler's signature changed since the build)."""


def resolve_project(project: Project | str | Path | None) -> Project:
    if isinstance(project, Project):
        return project
    return find_project(Path(project) if project is not None else None)


def load_routes(
    project: Project, config: Config, source: Source, strict: bool = False,
    facts: Facts | None = None,
    seen: Callable[[cache_io.Cache, freshness.Staleness], None] | None = None,
    unchanged: bool = False,
    checked: Checked | None = None,
) -> list[RouteEntry]:
    """The route table: verified from the cache (run) or scanned and validated (dev);
    `seen` is given the cache and what changed since its build. `unchanged` (unless `strict`):
    the caller knows the files are the ones the cache was built from (a Lambda deployment,
    which nothing writes to), so the stale check's walk and hashes are not paid for."""
    if source == "scan":
        # Imported here: validation's modules serve the scan only (not a cold start's cache).
        from ..pipeline.build import compile_table

        return compile_table(project.root, config, facts=facts, checked=checked).routes
    # No collection while the table is decoded: its 20,000 records at 10,000 route files set
    # off young collections, and older ones that walk FastAPI's whole heap, and none of it is
    # garbage (the table lives as long as the app). 745 -> 392 ms at 10,000 model files,
    # 26 -> 21 ms at 1000 (docs/performance.md, "The cache load without collections").
    with collector.held_back():
        cache = cache_io.load(project.root / config.build.cache_dir, config.route_dir)
    if unchanged and not strict:
        stale = freshness.Staleness()
    else:
        stale = freshness.check(project.root, config, cache)  # the check `status` makes
    if seen is not None:
        seen(cache, stale)
    if stale.stale:
        message = f"the build cache is stale ({stale.describe()})"
        if strict:
            raise StaleCacheError(message[0].upper() + message[1:] + ".", "fastapi-route build")
        log.warning("%s; run 'fastapi-route build'", message)
    return stale.with_current_lines(cache.routes)


def schedule_of(config: Config, schedule: Schedule | None, lazy: bool | None) -> Schedule:
    """`schedule` if given; else `lazy=True` is lazy and `lazy=False` eager; else config.py's
    `lazy = True`, or the default: warm."""
    if schedule is not None:
        return schedule
    if lazy is not None:
        return "lazy" if lazy else "eager"
    return "lazy" if config.lazy else "warm"


def create_app(
    project: Project | str | Path | None = None,
    *,
    source: Source = "cache",
    config: Config | None = None,
    strict: bool = False,
    schedule: Schedule | None = None,
    lazy: bool | None = None,
    dispatch: bool = True,
    error_page: ErrorPage | None = None,
    facts: Facts | None = None,
    checked: Checked | None = None,
    server: bool = False,
    unchanged: bool = False,
) -> FastAPI:
    """A FastAPI app serving the project's routes with the user's own handler functions.

    `schedule` says when routes are registered with FastAPI (see `ondemand`): `warm` (the
    default) imports every route file now and registers each route on its first request or
    in a background warm-up started with the lifespan; `eager` registers everything now;
    `lazy` (or config.py's `lazy = True`) imports each route on its first request.
    `dispatch=False` leaves Starlette's linear route scan in place (for comparisons; the
    behaviour is the same). `error_page` renders a route that cannot be served; `facts` and
    `checked` keep what each file said and what its checks found, for the next scan (dev).

    `unchanged=True` skips the stale check unless `strict` (see `load_routes`).

    `server=True` says the app is made for a server process (`run`, the asgi entry point),
    which keeps it until it exits: what is imported and registered is frozen out of the
    garbage collector's walks, and with a readiness path (config.py's `health`) a warm app
    imports its route files once the lifespan has started (SPEC 13.1, `health`).
    """
    found = resolve_project(project)
    config = config or load_config(found.root)
    docs_page = (found.root / DOCS_FILE).is_file()
    # Before any route file is imported: offline docs without their files fail the start.
    docs_assets = offline_docs.assets_folder(found.root, config)
    schedule = schedule_of(config, schedule, lazy)
    loaded: list[tuple[cache_io.Cache, freshness.Staleness]] = []
    routes = load_routes(found, config, source, strict, facts,
                         seen=lambda cache, stale: loaded.append((cache, stale)),
                         unchanged=unchanged, checked=checked)
    modules = ProjectModules(found)
    app_file = AppFile.load(found, modules)
    ready_path = config.health.ready is not None
    lifespan = app_file.lifespan
    if schedule == "warm" or ready_path:
        lifespan = with_warm_up(lifespan, (lambda: file_routes) if schedule == "warm" else None,
                                draining=ready_path)
    app = FastAPI(
        # config.py's settings and `fastapi` (title, docs URLs, root_path, ...); none of them
        # is one of the three below (checked when config.py was loaded)
        **config.fastapi_arguments(docs_page=docs_page),
        lifespan=lifespan,
        exception_handlers=dict(app_file.exception_handlers),
        # Outermost first: CORS, app.py's list, then middleware.py's function.
        middleware=[*extras.cors(config), *app_file.middleware,
                    *extras.project_middleware(found, modules)],
    )
    if docs_assets is not None:  # the pages FastAPI adds in its constructor, offline
        offline_docs.install(app, config.pages(docs_page), docs_assets)
    file_routes = OnDemandRoutes(app, modules, schedule, error_page, server=server)
    # The probes, then the project pages, before the routes: a root catch-all route must not
    # shadow a custom /docs. The pages see the current table (dev replaces it).
    health.install(app, config.health, lambda: not_ready(app))
    pages = extras.install(app, found, config, file_routes.table, modules)
    file_routes.install(routes, import_later=server and ready_path)
    app_file.finish(app)
    file_routes.keep_openapi_complete()  # configure may have replaced app.openapi
    openapi = OpenAPIRoute(app, file_routes)
    # After configure, so its routes are indexed too; None: Starlette's own routing.
    file_routes.dispatcher = dispatcher.install(app.router) if dispatch else None
    state = installed_in(app)
    state.own = Runtime(found, config, file_routes, pages)
    state.openapi = openapi if openapi.install() else None  # made while others are served
    for cache, stale in loaded:  # the document made at build (SPEC 13.2), while it fits
        install_baked_openapi(app, found.root, config, cache, stale)
    return app


class Runtime:
    """One project's route tree in an app: what `create_app` made for its app (read with
    `runtime_of(app)`: dev installs new tables through it; explain reads the routes' records),
    or what `include` added to an app it did not make (the handle it returns)."""

    def __init__(self, project: Project, config: Config, file_routes: OnDemandRoutes,
                 pages: extras.Pages | None = None, prefix: str = "") -> None:
        self.project = project
        self.config = config
        self.file_routes = file_routes
        # docs.py's route and the router's default, as extras added them; None for a tree
        # `include`d in an app (the page and the 404 are the app's own)
        self.pages = pages
        self.prefix = prefix  # where `include` put the tree's URLs ("" from create_app)

    def module(self, rel_file: str) -> ModuleType:
        """The module the app uses for a project file (`routes/items/deps.py`, relative to
        the project folder), imported now if need be: for a test's dependency_overrides on a
        file no import statement can name (`routes/users/[id]/deps.py`)."""
        return self.modules.load(rel_file, packages=True)  # so importlib.reload works on it

    def record_of(self, route: object) -> LazyRoute | None:
        """The table's LazyRoute behind a router entry (see `OnDemandRoutes.record_of`)."""
        return self.file_routes.record_of(route)

    def is_docs_page(self, route: object) -> bool:
        """Whether a router entry is the route that serves docs.py's page."""
        return route is not None and self.pages is not None and route is self.pages.docs

    @property
    def dispatcher(self) -> Dispatcher | None:
        return self.file_routes.dispatcher

    @property
    def modules(self) -> ProjectModules:
        return self.file_routes.modules

    @property
    def schedule(self) -> Schedule:
        return self.file_routes.schedule

    @property
    def table(self) -> list[RouteEntry]:
        """The routes served now, in precedence order (dev replaces them)."""
        return self.file_routes.table


class Installed:
    """Everything of ours in one app (`app.state.fastapi_route`, our one name there)."""

    def __init__(self) -> None:
        self.own: Runtime | None = None  # create_app's tree
        self.included: list[Runtime] = []  # include's, in the order they were included
        self.openapi: OpenAPIRoute | None = None  # the app's OpenAPI route, as we wrapped it

    @property
    def trees(self) -> list[Runtime]:
        return [*([self.own] if self.own is not None else []), *self.included]


_STATE = "fastapi_route"


def installed_in(app: FastAPI) -> Installed:
    """What fastapi-route put in `app`, made empty the first time."""
    state = getattr(app.state, _STATE, None)
    if not isinstance(state, Installed):
        state = Installed()
        setattr(app.state, _STATE, state)
    return state


def runtime_of(app: FastAPI) -> Runtime:
    """The Runtime `create_app` attached to `app`."""
    state = getattr(app.state, _STATE, None)
    if not isinstance(state, Installed) or state.own is None:
        raise LookupError(f"{app!r} was not made by fastapi_route.create_app")
    return state.own


def trees_of(app: FastAPI) -> list[Runtime]:
    """Every route tree in `app`: create_app's, then those `include` added."""
    state = getattr(app.state, _STATE, None)
    return state.trees if isinstance(state, Installed) else []


def not_ready(app: FastAPI) -> str | None:
    """Why `app` is not complete (what its readiness path answers with its 503): "failed" if a
    route file failed to import, "starting" while some are left to import; None: complete."""
    trees = [tree.file_routes for tree in trees_of(app)]
    if any(tree.broken for tree in trees):
        return "failed"
    return None if all(tree.imported for tree in trees) else "starting"


def with_warm_up(user: Any, file_routes: Callable[[], OnDemandRoutes] | None,
                 check: Callable[[], None] | None = None, draining: bool = False) -> Any:
    """The app's lifespan (app.py's, if any) with the warm-up of `file_routes` running once
    it has started (None: no warm-up); `check` runs before anything (it raises to fail the
    start); with `draining`, a stop signal makes the readiness path say 503 (`health`)."""
    if inspect.isasyncgenfunction(user):  # the older form Starlette still takes
        user = contextlib.asynccontextmanager(user)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        if check is not None:
            check()
        with health.DRAINING.watching() if draining else contextlib.nullcontext():
            async with _running(user, app, file_routes) as state:
                yield state

    return lifespan


@contextlib.asynccontextmanager
async def _running(user: Any, app: FastAPI, file_routes: Callable[[], OnDemandRoutes] | None
                   ) -> AsyncIterator[Any]:
    """The user's lifespan, with the warm-up running inside it."""
    async with (user(app) if user is not None else contextlib.nullcontext()) as state:
        if file_routes is None:
            yield state
            return
        SERVING.enter()
        task = asyncio.create_task(file_routes().warm_up())
        try:
            yield state
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            SERVING.leave()
