"""`include(app, project, prefix=...)`: a route tree in a FastAPI app you made, the host
(SPEC 12.1).

The tree's routes go into the app's own router, below `prefix`, as `create_app` puts them in
its app: LazyRoutes made real on the tree's schedule by the router's own `add_api_route`, in
the tree's precedence order, after the routes the app has so far; the trie dispatcher routes
the app's requests (one per app, shared by every tree and indexing the app's own routes too).
The tree brings its routes, its layouts and its `middleware.py` (around each of its routes,
as a root layout's middleware), its cache (checked as `run` checks it) and its schedule; the
warm-up starts with the app's lifespan. Everything else stays the app's: lifespan, exception
handlers, ASGI middleware, docs, the 404 page. A tree's `app.py`, `not-found.py`, `docs.py`
and `public/` make sense for a whole app only: they are not used (one warning names them).

Why not FastAPI's `app.include_router(router, prefix=...)`: it takes the routes it knows
(APIRoute, Route, Mount...), copied into the app (FastAPI < 0.137) or kept as a node that
copies them on first use (FastAPI >= 0.137). A route that is not made yet is neither, so only
a router of routes all made at once (every file imported at start) could be included that way.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute

from .asgi import dev_from_env
from .config import Config, load_config
from .conventions import (
    APP_FILE,
    CONFIG_FILE,
    DOCS_FILE,
    NOT_FOUND_FILE,
    WEBSOCKET,
    Key,
    Template,
)
from .errors import CacheError, FastAPIRouteError, ProjectNotFound
from .project import Project, find_project
from .runtime import dispatch as dispatcher
from .runtime import extras
from .runtime.app import Runtime, Source, installed_in, load_routes, schedule_of, with_warm_up
from .runtime.endpoints import compile_served
from .runtime.layouts import NONE, Composed
from .runtime.modules import ProjectModules
from .runtime.ondemand import SCHEDULES, OnDemandRoutes, Schedule
from .runtime.openapi import OpenAPIRoute
from .table import RouteEntry

log = logging.getLogger("fastapi_route")

PUBLIC_DIR = "public"  # served by create_app's 404 fallback only


class RouteConflict(FastAPIRouteError):
    """A route of an included tree and a route already in the app answer one request."""


def include(
    app: FastAPI,
    project: Project | str | Path | None = None,
    *,
    app_name: str | None = None,
    prefix: str = "",
    source: Source | None = None,
    strict: bool = False,
    schedule: Schedule | None = None,
) -> Runtime:
    """Serve a project's route tree (a folder, or with `app_name` an installed app) from
    `app`, below `prefix` (`/v2`; "" for none). `source`: "cache" (built, checked as `run`
    checks it) or "scan" (the tree as it is: development, tests); by default the cache,
    but a scan under `fastapi dev` (as `fastapi_route.asgi:app` decides: FASTAPI_ROUTE_DEV,
    else FastAPI's FASTAPI_ENV). `strict` refuses a stale cache; `schedule` as `create_app`'s
    (default: config.py's `lazy`, else warm). Returns the tree's handle (`Runtime`)."""
    _check_arguments(app, source, schedule)
    found = _project(project, app_name)
    config = load_config(found.root)
    prefix = checked_prefix(prefix)
    schedule = schedule_of(config, schedule, None)
    if source is None:
        source = "scan" if dev_from_env() else "cache"
    routes = [r.under(prefix) for r in _table(found, config, source, strict)]
    state = installed_in(app)
    check_clashes(app.router.routes, routes, found, state.trees)
    _warn_unused(found, config)
    modules = ProjectModules(found)
    file_routes = OnDemandRoutes(app, modules, schedule, base=_tree_wide(found, config, modules))
    file_routes.install(routes)
    tree = Runtime(found, config, file_routes, prefix=prefix)
    state.included.append(tree)
    router = app.router
    # The app's routes added after this call are checked when it starts.
    router.lifespan_context = with_warm_up(
        router.lifespan_context, (lambda: file_routes) if schedule == "warm" else None,
        check=_checked_at_start(app, tree),
    )
    file_routes.dispatcher = dispatcher.install(router)
    _share_openapi_route(app, file_routes)
    return tree


# What of config.py's `fastapi = {...}` applies to each route of the tree, as FastAPI applies
# it to each route of an app: the rest is the app's (its docs, its document, its response
# class...), named by the warning of `_warn_unused`.
TREE_WIDE = ("dependencies", "responses", "deprecated")


def _tree_wide(project: Project, config: Config, modules: ProjectModules) -> Composed:
    """What applies above the tree's root layout: config.py's `fastapi` dependencies,
    responses and deprecation, and middleware.py's function (as a root layout's middleware)."""
    middleware = extras.middleware_function(project, modules)
    arguments = config.fastapi
    if middleware is None and not any(key in arguments for key in TREE_WIDE):
        return NONE
    return Composed(
        dependencies=tuple(arguments.get("dependencies") or ()),
        responses=arguments.get("responses"),
        deprecated=arguments.get("deprecated"),
        middleware=(middleware,) if middleware is not None else (),
    )


def _check_arguments(app: object, source: object, schedule: object) -> None:
    """What a call gives that no project file can fix: a message, not a traceback later."""
    if not isinstance(app, FastAPI):
        raise FastAPIRouteError(
            f"include: {type(app).__name__} is not a FastAPI app",
            "pass the app itself, include(app, ...); for a router, include the tree in the "
            "app the router is included in",
        )
    if source not in (None, "cache", "scan"):
        raise FastAPIRouteError(f"include: source={source!r} is not a source",
                                "source=\"cache\" (the build) or source=\"scan\" (the tree)")
    if schedule not in (None, *SCHEDULES):
        raise FastAPIRouteError(f"include: schedule={schedule!r} is not a schedule",
                                "one of " + ", ".join(repr(s) for s in SCHEDULES))


def _table(project: Project, config: Config, source: Source, strict: bool) -> list[RouteEntry]:
    try:
        return load_routes(project, config, source, strict)
    except CacheError as exc:  # its hint is for the project's folder
        raise CacheError(exc.message, f"fastapi-route build --project {_shown(project.root)}, "
                        "or include(..., source=\"scan\") to read the tree as it is"
                        ) from None


def _project(project: Project | str | Path | None, app_name: str | None) -> Project:
    if isinstance(project, Project):
        return project
    try:
        return find_project(Path(project) if project is not None else None, app=app_name)
    except ProjectNotFound as exc:  # its hint is the command line's
        raise ProjectNotFound(
            exc.message, "pass the project folder, include(app, \"path/to/project\"), or "
            "an installed app's name, include(app, app_name=\"billing\")") from None


_URL_TEXT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")  # a path's characters (RFC 3986)


def checked_prefix(prefix: object) -> str:
    """A prefix is static URL text: `""`, or `/v2`, `/api/orders` (no trailing slash)."""
    if prefix == "":
        return ""
    if (not isinstance(prefix, str) or not prefix.startswith("/") or prefix.endswith("/")
            or "//" in prefix or not _URL_TEXT.fullmatch(prefix)
            or any(p.rank for p in Template.parse(prefix).pieces)):
        raise FastAPIRouteError(
            f"include: prefix {prefix!r} is not a static URL path",
            "write it as FastAPI's include_router takes one: starting with '/', without a "
            "trailing '/' or path parameters, e.g. prefix=\"/v2\"",
        )
    return prefix


# --- one request, one answer: the tree's routes against the app's ------------------------------

Answer = tuple[str, Key, bool]  # method ("*": any), template precedence key, trailing slash


def _answer(method: str, path: str, own: bool) -> Answer:
    # Same method, same static text and segment types, whatever the parameters are named:
    # the precedence key `validate` compares for DUPLICATE_ROUTE and AMBIGUOUS_ROUTE. `own`: a
    # route file's template, whose `{x:hex}` is a project's type (SPEC 14.1).
    return method, Template.parse(path, own).key, path.endswith("/") and path != "/"


def check_clashes(before: Sequence[BaseRoute], routes: Sequence[RouteEntry], project: Project,
                  trees: list[Runtime], after: Sequence[BaseRoute] = ()) -> None:
    """RouteConflict naming both sides for each route of `routes` (a tree's, placed between
    `before` and `after` in an app's routes) that answers a request a route of the app also
    answers: one for the same method and path, the app's own or another tree's; one of the
    app's own before the tree that takes the route's URLs (`/v2/{name}`, a mount at `/v2`);
    one after the tree whose URLs a route of the tree takes."""
    clashes: dict[tuple[int, int], str] = {}  # (route of the tree, app route) -> what
    taken: dict[Answer, tuple[int, str]] = {}
    for route, methods, path, who, own in _app_routes([*before, *after], trees):
        for method in methods:
            taken.setdefault(_answer(method, path, own), (id(route), who))
    for number, r in enumerate(routes):
        answer = _answer(r.method, r.path, True)
        other = taken.get(answer) or (
            None if r.is_websocket else taken.get(("*", *answer[1:])))
        if other is not None:
            clashes[number, other[0]] = (f"{r.label} {r.path}: {_file_of(project, r)} "
                                         f"(this tree) and {other[1]}")
    ours = {id(x) for t in trees for lazy in t.file_routes.lazy for x in (lazy, lazy.real)}
    for route in before:
        if id(route) not in ours and _takes_subtrees(route):
            for number, r in enumerate(routes):
                if (number, id(route)) not in clashes and _answers(route, r):
                    clashes[number, id(route)] = (
                        f"{r.label} {r.template.example}: {_who(route)} comes first and "
                        f"answers it, not {_file_of(project, r)} (this tree)")
    for route, methods, path, who, own in _app_routes(after, trees):
        example = Template.parse(path, own).example
        for number, r in enumerate(routes):
            if ((number, id(route)) not in clashes and r.is_dynamic
                    and (r.method in methods or "*" in methods)
                    and compile_served(r.path)[0].match(example)):
                clashes[number, id(route)] = (
                    f"{r.label} {example}: {_file_of(project, r)} (this tree) comes first "
                    f"and answers it, not {who}")
    if clashes:
        lines = list(clashes.values())
        more = f" (and {len(lines) - 5} more)" if len(lines) > 5 else ""
        raise RouteConflict(
            "ROUTE_CONFLICT include: these routes would answer the same requests:\n  "
            + "\n  ".join(lines[:5]) + more,
            "remove one of each pair, give it another path, or include the tree under "
            "another prefix",
        )


def _takes_subtrees(route: BaseRoute) -> bool:
    """Whether an app's route may answer URLs other than its own template's: one with path
    parameters, a mount, a host, an included router (a static route is checked by shape)."""
    path = getattr(route, "path", None)
    if not isinstance(route, (Route, WebSocketRoute)) or not isinstance(path, str):
        return True
    return any(p.rank for p in Template.parse(path).pieces)


def _answers(route: BaseRoute, r: RouteEntry) -> bool:
    """Whether `route` answers a request for `r`'s method at a URL of `r`'s."""
    scope: dict[str, Any] = {
        "type": "websocket" if r.is_websocket else "http", "path": r.template.example,
        "root_path": "", "query_string": b"", "headers": [], "method": r.method,
    }
    try:
        match, _ = route.matches(scope)
    except Exception:  # a route that needs more of a request than this to decide
        return False
    return match is Match.FULL


def _who(route: BaseRoute) -> str:
    if isinstance(route, Mount):
        return f"the app's mount at {route.path or '/'}"
    described = _described(route)
    if described is not None:
        return described[2]
    return f"the app's {type(route).__name__}"


def _file_of(project: Project, r: RouteEntry) -> str:
    return f"{_shown(project.root / r.file)}:{r.line}"


def _app_routes(app_routes: Sequence[BaseRoute], trees: list[Runtime]
                ) -> Iterator[tuple[BaseRoute, set[str], str, str, bool]]:
    """(route, methods, path, who, a tree's) for each route of the app that answers one path:
    its own routes (FastAPI >= 0.137's included routers through their effective routes) and
    other trees'. Mounts and hosts answer whole subtrees (see `_answers`)."""
    records = {id(x): (t, lazy) for t in trees for lazy in t.file_routes.lazy
               for x in (lazy, lazy.real) if x is not None}
    for route in app_routes:
        found = records.get(id(route))
        if found is not None:
            tree, lazy = found
            r = lazy.record
            yield route, {r.method}, r.path, (f"{_file_of(tree.project, r)} (the tree at "
                                              f"{tree.prefix or '/'})"), True
            continue
        contexts = getattr(route, "effective_route_contexts", None)
        for one in (contexts() if callable(contexts) else [route]):
            described = _described(one)
            if described is not None:
                yield (route, *described, False)


def _described(route: Any) -> tuple[set[str], str, str] | None:
    """A route's (or an included router's effective route's) methods, path and definition."""
    path = getattr(route, "path", None)  # an effective route's: with its router's prefix
    inner = getattr(route, "original_route", route)
    if not isinstance(path, str):
        return None
    if isinstance(inner, WebSocketRoute):
        methods = {WEBSOCKET}
    elif isinstance(inner, Route):
        declared = inner.methods
        # Starlette adds HEAD to a GET route; None: an endpoint class answers every method.
        methods = {"*"} if declared is None else set(declared) - (
            {"HEAD"} if "GET" in declared else set())
    else:
        return None  # a mount, a host: a subtree, not one path
    return methods, path, f"{_where(getattr(inner, 'endpoint', None))} (the app's own route)"


def _where(endpoint: Callable[..., Any] | None) -> str:
    """`main.py:12 read_items`: where an app's endpoint is defined, as well as can be told."""
    if endpoint is None:
        return "a route"
    function = inspect.unwrap(endpoint)
    name = getattr(function, "__qualname__", repr(function)).rpartition("<locals>.")[2]
    try:
        source = inspect.getsourcefile(function)
        line = inspect.getsourcelines(function)[1]
    except (OSError, TypeError):
        return name
    return f"{_shown(Path(source))}:{line} {name}" if source else name


def _shown(path: Path) -> str:
    """A path relative to the current folder where it is below it (as a user reads it)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return path.as_posix()


def _checked_at_start(app: FastAPI, tree: Runtime) -> Callable[[], None]:
    """The clash check again when the app starts, for the app's routes added after `include`
    (the tree's own routes, and later trees', are not its rivals)."""

    def check() -> None:
        state = installed_in(app)
        others = [t for t in state.trees if t is not tree]
        ours = {id(x) for lazy in tree.file_routes.lazy for x in (lazy, lazy.real)}
        routes = app.router.routes
        places = [i for i, route in enumerate(routes) if id(route) in ours]
        first, last = (places[0], places[-1]) if places else (len(routes), len(routes))
        check_clashes(routes[:first], tree.table, tree.project, others, after=routes[last + 1:])
        # "Extending OpenAPI" after `include` replaced app.openapi: every route made real
        # before the document is made again (as create_app does after app.py's configure)
        tree.file_routes.keep_openapi_complete()

    return check


def _warn_unused(project: Project, config: Config) -> None:
    """One warning naming the tree's files and settings that only a whole app uses."""
    unused = [name for name in (APP_FILE, NOT_FOUND_FILE, DOCS_FILE)
              if (project.root / name).is_file()]
    if (project.root / PUBLIC_DIR).is_dir():
        unused.append(PUBLIC_DIR + "/")
    if config.cors_enabled:
        unused.append(f"{CONFIG_FILE}'s cors_enabled")
    if config.health.paths():
        unused.append(f"{CONFIG_FILE}'s health")
    unused += [f"{CONFIG_FILE}'s fastapi[{key!r}]" for key in config.fastapi
               if key not in TREE_WIDE]
    if unused:
        log.warning(
            "fastapi-route: include(%s) does not use %s: the app you include the tree in "
            "has its own lifespan, exception handlers, middleware, 404 page, docs, static "
            "files and probes",
            project.name, ", ".join(unused))


def _share_openapi_route(app: FastAPI, file_routes: OnDemandRoutes) -> None:
    """The app's first /openapi.json made off the event loop (`runtime.openapi`), waiting for
    every tree's routes: one wrapper per app, which each tree joins."""
    state = installed_in(app)
    if state.openapi is not None:
        state.openapi.trees.append(file_routes)
        return
    openapi = OpenAPIRoute(app, file_routes)
    if openapi.install():
        state.openapi = openapi
