"""Routes registered with FastAPI on demand (SPEC 10), on one of three schedules.

Every route of the table starts as a LazyRoute: one string test or regex, no FastAPI work.
The first request that reaches it (or the warm-up) builds the real route with FastAPI's own
`add_api_route`, exactly as an eager app would, and swaps it into the LazyRoute's place, so a
warm app is the eager app. The schedules differ only in when that happens:

- `eager`: every route is made real before the app is returned (before `run` binds a port);
- `warm`: every route file and layout is imported before the app is returned, so an import
  error still stops `run` before it binds; routes are made real by their first request or by
  a background warm-up started with the app's lifespan, whichever comes first. A route
  FastAPI rejects stops the server (`failure.stop_serving`) whenever it is found;
- `lazy`: nothing is imported until used; a route that cannot be served answers 500 (it is
  logged) and the others keep working.

With a readiness path (config.py's `health`, SPEC 13.1) a server's warm app imports its route
files after the lifespan has started instead (`import_rest`, in slices before the warm-up):
the port is bound at once, a request imports what it needs first, the readiness path answers
503 until every file is imported, and a file that fails to import still stops `run`.

`dev` replaces the whole set with a new table in the running app (`OnDemandRoutes.install`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import operator
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

from fastapi import FastAPI
from starlette.datastructures import URLPath
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ..conventions import params_file, params_type
from ..errors import FastAPIRouteError
from ..table import RouteEntry
from . import failure
from .activity import REQUESTS
from .dispatch import Dispatcher
from .endpoints import compile_served
from .layouts import NONE, Composed, read_layout
from .modules import HandlerImportError, ProjectModules
from .register import Registrar
from .routepath import get_route_path
from .segment_types import own_types_of

Schedule = Literal["eager", "warm", "lazy"]
SCHEDULES: tuple[Schedule, ...] = ("eager", "warm", "lazy")
ErrorPage = Callable[[Exception], Response]
# The warm-up works in slices of this many seconds, each followed by a pause as long; while a
# request waits for every route (the first /openapi.json), its slices are HURRIED_SLICE long.
WARM_UP_SLICE = 0.002
WARM_UP_PAUSE = 0.002
HURRIED_SLICE = 0.006
# How often a warm-up held back (`OnDemandRoutes.held_back`) looks again.
HELD_BACK_POLL = 0.05
# Route files imported after the bind (`import_rest`) go in slices this long, each followed
# by a pause this long: a request waits for one slice at most (reading a request and running
# its app takes several turns of the loop, which a bare `sleep(0)` would each follow with a
# slice). Longer slices and shorter pauses than the warm-up's: before it is ready a server
# gets little traffic, and ready comes about as soon as the imports are done.
IMPORT_SLICE = 0.010
IMPORT_PAUSE = 0.001
# Before the bind (`import_all`), a server freezes what it imported every this many files.
IMPORTS_PER_FREEZE = 200

log = logging.getLogger("fastapi_route")


class LazyRoute(BaseRoute):
    """Stands in for a route until a request (or a websocket, or the warm-up) reaches it."""

    indexable = True  # a plain path route to the dispatcher's trie

    def __init__(self, owner: OnDemandRoutes, r: RouteEntry, position: int) -> None:
        self.owner = owner
        self.record = r
        self.scope_type = "websocket" if r.is_websocket else "http"
        # Where it stands in the router's list, to swap it out: a hint, as `dev` keeps a
        # stand-in across reloads while routes come and go before it (`_place`).
        self.position = position
        self.path = r.path
        self.name = f"{r.label} {r.path}"
        # A static route is matched by string equality; a dynamic one compiles its regex only
        # once a path starts with its template's prefix (both read on its first match: `run`
        # makes thousands of these and most never see a request before the warm-up).
        self.prefix: str | None = None
        self.pattern: re.Pattern[str] | None = None
        self.real: BaseRoute | None = None
        self.error: Exception | None = None
        # The registrar of the table it was last in, once `dev` installed a table without it:
        # a request still on that table's list may make it real, with its record's id and
        # methods, which the new registrar does not know.
        self.left: Registrar | None = None

    @property
    def registrar(self) -> Registrar:
        """The registrar of the table it is in now (`dev` keeps it in the next table)."""
        return self.left if self.left is not None else self.owner.registrar

    def materialize(self) -> BaseRoute | None:
        if self.real is None and self.error is None:
            self.owner.materialize(self)
        return self.real

    def _path_matches(self, path: str) -> bool:
        if not self.record.params:
            return path == self.path
        if self.prefix is None:
            self.prefix = self.record.template.prefix
        if not path.startswith(self.prefix):
            return False
        if self.pattern is None:
            self.pattern = compile_served(self.path)[0]  # as the real route will match
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
            assert self.error is not None
            await self.owner.error_response(self.error)(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        real = self.materialize()
        if real is None:
            raise NoMatchFound(name, path_params)
        return real.url_path_for(name, **path_params)


def _plain_500(error: Exception) -> Response:
    return PlainTextResponse("Internal Server Error", 500)


class Staged(NamedTuple):
    """Stand-ins for a table, made ahead (`OnDemandRoutes.stage`), and where they go."""

    routes: Sequence[RouteEntry]
    replaced: list[LazyRoute]  # the stand-ins (or their real routes) they replace
    at: int  # where those stand in the router's list
    kept: list[BaseRoute]  # the router's other routes (app pages, mounts, routes by hand)
    lazy: list[LazyRoute]  # the last table's stand-ins where their records did not change
    router_routes: list[BaseRoute]  # the router's new list
    keys: list[int]  # what stands for each of its places, for the dispatcher's index
    registrar: Registrar
    left: list[LazyRoute]  # the stand-ins of `replaced` that the new table does not keep

    def fits(self, owner: OnDemandRoutes, routes: Sequence[RouteEntry]) -> bool:
        """Still right for the router as it is: the same table, and the same other routes
        around the same stand-ins (checked by identity: a few routes)."""
        current = owner.app.router.routes
        ours = len(current) - len(self.kept)
        return (self.routes is routes and owner.lazy is self.replaced
                and ours == len(self.replaced)
                and all(map(operator.is_, current[:self.at], self.kept[:self.at]))
                and all(map(operator.is_, current[self.at + ours:], self.kept[self.at:])))


class OnDemandRoutes:
    """The routes of one route table in an app, made real on a schedule."""

    def __init__(self, app: FastAPI, modules: ProjectModules, schedule: Schedule,
                 error_page: ErrorPage | None = None, base: Composed = NONE,
                 server: bool = False) -> None:
        self.app = app
        self.modules = modules
        self.base = base  # what applies above the root layout (an included tree's middleware)
        self.schedule = schedule
        # Made for a server process (`run`, the asgi entry point): what it imports and
        # registers lives as long as the process, and is frozen (`freeze_what_is_made`).
        self.server = server
        # Whether every file of the table is imported (or known to fail, under `lazy`):
        # false only while `import_rest` has files left, which it imports from `_to_import`.
        self.imported = True
        # Whether a route file failed to import (found by a request under `lazy`, or by
        # anything that made a route real): the app is not complete.
        self.broken = False
        self._to_import: list[str] = []
        self._layout_files: set[str] = set()
        self.error_response = error_page or _plain_500
        self.table: list[RouteEntry] = []  # the current table, changed in place by install
        self.lazy: list[LazyRoute] = []
        self.registrar = Registrar(app, (), modules, base)  # the current table's
        # The stand-ins made real (or failed) since a table was staged and until it is
        # installed: `install` checks those its new table keeps (None: none staged).
        self._made: list[LazyRoute] | None = None
        # Its views hold routes by position: a swap makes them stale (create_app sets it).
        self.dispatcher: Dispatcher | None = None
        # Sync handlers run in threads, and `url_for` there can make a route real: one at a
        # time (re-entrant: making a route real imports its file, which may ask for another).
        self.lock = threading.RLock()
        self._openapi: Callable[[], dict[str, Any]] | None = None
        # make_all_real: the position in `lazy` before which every route is real (or failed),
        # the task doing the slices (one at a time), and how many requests wait for them.
        self._next = 0
        self._driver: asyncio.Task[None] | None = None
        self._hurried = 0
        # While a forked child makes the OpenAPI document it makes every route real in its
        # copy: the warm-up waits (set by `openapi.OpenAPIRoute`, from its reader thread too),
        # leaving the cores to the child and the requests, and the pages the child shares with
        # the server unwritten (each written one is copied while the child lives).
        self.held_back = False
        self.keep_openapi_complete()

    def keep_openapi_complete(self) -> None:
        """Make every route real before `app.openapi()` runs, so the document describes every
        route whenever it is asked for; again after app.py's `configure` replaced it (FastAPI's
        "Extending OpenAPI")."""
        if self._openapi is not None and self.app.openapi is self._openapi:
            return
        described = self.app.openapi

        def openapi() -> dict[str, Any]:
            self.materialize_all()
            return described()

        self._openapi = self.app.openapi = openapi  # type: ignore[method-assign]

    def install(self, routes: Sequence[RouteEntry], import_later: bool = False,
                staged: Staged | None = None) -> None:
        """Put a LazyRoute per route in the router, in the table's precedence order, in
        place of the previous table's routes (at the end, the first time); then follow the
        schedule: eager makes them all real, warm imports every file they need (now, or
        with `import_later` by `import_rest` once the lifespan has started). `staged`: the
        stand-ins made ahead for these routes (`stage`, in another thread: `dev`), used when
        the router still holds what they were made for."""
        if self.schedule == "warm":
            files, self._layout_files = _files_of(routes)
            if import_later:
                self._to_import, self.imported = files, False
            else:  # before anything changes: an import error stops here
                self.import_all(files)
        if staged is None or not staged.fits(self, routes):
            staged = self.stage(routes)
        with self.lock:  # a thread running a sync handler may be making a route real
            self._made_meanwhile(staged)
            for lazy in staged.left:
                lazy.left = self.registrar
            self.registrar = staged.registrar
            self.lazy = staged.lazy
            # A new list: the dispatcher rebuilds its index for it (or takes the one made
            # ahead for it), and a request already iterating the old list finishes on it.
            self.app.router.routes = staged.router_routes
        self.table[:] = routes
        self._next = 0
        self.app.openapi_schema = None
        if self.schedule == "eager":
            self.materialize_all()

    def stage(self, routes: Sequence[RouteEntry]) -> Staged:
        """What `install` puts in place for `routes`, made without changing anything: it
        may run in another thread while the app serves. The stand-in of a record the last
        table has (the same object: `dev` keeps the records that did not change) is kept
        while it is one (not made real, nor failed): what it will be made of (its file,
        layouts, helpers) may have changed; a new one otherwise."""
        if self._made is None:
            self._made = []  # from now on, until `install`
        replaced = self.lazy
        router_routes = list(self.app.router.routes)  # a copy: one C call
        ours = {id(x) for lazy in replaced for x in (lazy, lazy.real) if x is not None}
        at = next((i for i, x in enumerate(router_routes) if id(x) in ours), len(router_routes))
        kept = [x for x in router_routes if id(x) not in ours]
        # What the last table's registrar worked out holds where the records did not change
        # (dev): not worked out again, nor new for the collector.
        last = (self.registrar, [x.record for x in replaced]) if replaced else None
        registrar = Registrar(self.app, routes, self.modules, self.base, last)
        standing = {id(x.record): x for x in replaced if x.real is None and x.error is None}
        lazy = [standing.get(id(r)) or LazyRoute(self, r, at + i) for i, r in enumerate(routes)]
        # A place of ours is its stand-in's (made real in place, kept across reloads).
        keys = [*map(id, kept[:at]), *map(id, lazy), *map(id, kept[at:])]
        staying = set(map(id, lazy))
        left = [x for x in replaced if id(x) not in staying]
        return Staged(routes, replaced, at, kept, lazy, [*kept[:at], *lazy, *kept[at:]],
                      keys, registrar, left)

    def _made_meanwhile(self, staged: Staged) -> None:
        """The stand-ins made real (or failed) between `stage` and now, by the current
        table's registrar and modules, that the staged table keeps: stand-ins again (in
        place: the list they leave holds their real routes) for it to make anew."""
        made, self._made = self._made or [], None
        if not made:
            return
        where = {id(x): i for i, x in enumerate(staged.lazy)}
        for lazy in made:
            i = where.get(id(lazy))
            if i is not None:
                lazy.real = lazy.error = None
                staged.router_routes[staged.at + i] = lazy

    def import_all(self, files: Sequence[str]) -> None:
        """Import every route file and layout the table names, and check each layout's values
        (a FastAPIRouteError names the file that failed)."""
        for count, file in enumerate(files, 1):
            self._import(file)
            if count % IMPORTS_PER_FREEZE == 0:
                self.freeze_what_is_made()
        self.freeze_what_is_made()

    def _import(self, file: str) -> None:
        own_type = params_type(file)
        if own_type is not None:  # imported, and checked to define `match`
            self.modules.types.get(own_type)
            return
        module = self.modules.load(file)
        if file in self._layout_files:
            read_layout(file, module)

    async def import_rest(self) -> None:
        """Import the files `install(..., import_later=True)` left, in slices (see
        IMPORT_SLICE), then mark the table `imported`. A file that fails is logged and stops
        the server under `run` (`failure.stop_serving`); elsewhere the table stays not
        imported, so the readiness path never says ready."""
        files, done, started = self._to_import, 0, time.perf_counter()
        while done < len(files):
            until = time.perf_counter() + IMPORT_SLICE
            while done < len(files) and time.perf_counter() < until:
                try:
                    self._import(files[done])
                except Exception as exc:  # HandlerImportError, a layout's wrong value
                    self.broken = True
                    log.error("fastapi-route: the server cannot be ready: %s", exc)
                    failure.stop_serving(exc)
                    return
                done += 1
            self.freeze_what_is_made()
            await asyncio.sleep(IMPORT_PAUSE)
        self._to_import, self.imported = [], True
        log.info("fastapi-route: %d files imported in %.3f s: ready", len(files),
                 time.perf_counter() - started)

    def materialize(self, lazy: LazyRoute) -> None:
        with self.lock:
            if lazy.real is None and lazy.error is None:  # not made by another thread meanwhile
                self._materialize(lazy)

    def _materialize(self, lazy: LazyRoute) -> None:
        try:
            # Made by the app's own router (its defaults apply) and taken back out of its list
            # before anything else runs (no await in between).
            lazy.real = lazy.registrar.add(lazy.record)
        except Exception as exc:
            lazy.error = exc
            if self._made is not None:
                self._made.append(lazy)
            self.broken = self.broken or isinstance(exc, HandlerImportError)
            if self.schedule == "eager":
                raise
            # Our own refusal (a layout's value) says all in its message and hint; an error
            # of the user's code keeps its traceback.
            own = isinstance(exc, FastAPIRouteError) and exc.__cause__ is None
            log.error("%s %s cannot be served: %s", lazy.record.label, lazy.path, exc,
                      exc_info=None if own else exc)
            if self.schedule == "warm":
                failure.stop_serving(exc)
            return
        if self._made is not None:
            self._made.append(lazy)
        routes = self.app.router.routes
        position = _place(routes, lazy)
        if position is None:  # a request still on a list `dev` has replaced: served by `lazy`
            return
        routes[position] = lazy.real  # same length: safe while the router iterates
        if self.dispatcher is not None:
            self.dispatcher.routes_replaced(position)

    def record_of(self, route: object) -> LazyRoute | None:
        """The LazyRoute a router entry is (or was made from): by identity, the LazyRoute
        itself or the real route that replaced it; None for a route that is not a file's."""
        return next((lazy for lazy in self.lazy if lazy is route or lazy.real is route), None)

    def materialize_all(self) -> None:
        for lazy in self.lazy:
            lazy.materialize()

    async def warm_up(self) -> None:
        """Make every route real in short slices with pauses between them: a request waits for
        at most one slice, and while the warm-up pauses, the loop and the threads that run
        sync handlers have the interpreter to themselves (a warm-up that only yielded to the
        loop would hold the GIL against those threads and slow every request down)."""
        started = time.perf_counter()
        if not self.imported:
            await self.import_rest()
            if not self.imported:
                return  # a file failed: stopping, or never ready (logged)
        await self.make_all_real()
        log.info("fastapi-route: %d routes registered in %.3f s", len(self.lazy),
                 time.perf_counter() - started)

    def all_real(self) -> bool:
        """Whether every route of the table is real (or known not to be servable)."""
        lazy = self.lazy
        while self._next < len(lazy) and (lazy[self._next].real is not None
                                          or lazy[self._next].error is not None):
            self._next += 1
        return self._next >= len(lazy)

    async def make_all_real(self, hurried: bool = False) -> None:
        """Every route made real, in slices with pauses (see `warm_up`). One caller does the
        slices at a time (the warm-up, or a request that needs every route); the others wait
        for it, pausing as it does, and take over if it stops (a cancelled warm-up). While a
        `hurried` caller waits, slices are HURRIED_SLICE long: it is served sooner, and the
        pauses still leave the interpreter to requests and to the threads of sync handlers."""
        if hurried:
            self._hurried += 1
        try:
            while not self.all_real():
                if self._driver is not None and not self._driver.done():
                    await asyncio.sleep(WARM_UP_PAUSE)
                    continue
                self._driver = asyncio.current_task()
                try:
                    await self._slices()
                finally:
                    self._driver = None
        finally:
            if hurried:
                self._hurried -= 1

    async def _slices(self) -> None:
        """Slices until every route is real. While the app serves (under `run`, or inside a
        lifespan that runs the warm-up), each slice ends with `gc.freeze()` (after a
        collection of the young generations, so that its garbage is not frozen): the routes
        made, and the modules imported before, live as long as the app, and a full collection
        no longer walks them all (at 1000 route files, two or three collections of 100-300 ms
        each during the warm-up and the first document, in any thread, stopping every request;
        20 ms once frozen)."""
        while not self.all_real():
            if not self._hurried:
                while self.held_back:  # a forked child is making them all (`openapi`)
                    await asyncio.sleep(HELD_BACK_POLL)
                await REQUESTS.wait_idle()  # a request under way goes first (`activity`)
                if self.all_real():
                    break
            until = time.perf_counter() + (HURRIED_SLICE if self._hurried else WARM_UP_SLICE)
            while not self.all_real() and time.perf_counter() < until:
                self.lazy[self._next].materialize()
            self.freeze_what_is_made()
            await asyncio.sleep(WARM_UP_PAUSE)

    def freeze_what_is_made(self) -> None:
        """While the app serves: every object alive now out of the garbage collector's reach
        (see `_slices`), after a collection of the young generations (a few ms at most)."""
        # The supervisor is read now, not when the app was made: `run` makes it before
        # exporting its supervisor.
        if self.server or SERVING.is_set() or failure.supervisor_from_env() is not None:
            SERVING.freeze()


def _place(routes: list[BaseRoute], lazy: LazyRoute) -> int | None:
    """Where `lazy` stands in `routes`: at its position, or near it (routes came or went
    before it since it was placed: `dev` keeps stand-ins), or anywhere; None: not there."""
    hint = lazy.position
    for i in (hint, *(j for d in range(1, 33) for j in (hint + d, hint - d))):
        if 0 <= i < len(routes) and routes[i] is lazy:
            lazy.position = i
            return i
    found = next((i for i, x in enumerate(routes) if x is lazy), None)
    if found is not None:
        lazy.position = found
    return found


def _files_of(routes: Sequence[RouteEntry]) -> tuple[list[str], set[str]]:
    """The files a table imports (its project types' params files first, then layouts before
    the route files below them), and which of them are layouts."""
    types = sorted({params_file(name) for r in routes for _, name in own_types_of(r.template)})
    files = list(dict.fromkeys(f for r in routes for f in (*r.layouts, r.file)))
    return [*types, *files], {f for r in routes for f in r.layouts}


class _Serving:
    """Whether some app's lifespan with a warm-up is running in this process (`serving`).

    Outside `run`, frozen objects are given back to the collector when the last such lifespan
    ends (`gc.unfreeze`): a test suite drops apps, whose cycles would otherwise stay frozen,
    and so in memory, for good. Not when the process had frozen objects of its own before
    (what a server app froze before its lifespan, `freeze`, is ours)."""

    def __init__(self) -> None:
        self._count = 0
        self._ours = False  # whether the frozen objects are ours to give back
        # Whether our first freeze since the last unfreeze found nothing frozen (None: no
        # freeze yet). Asked once: gc.get_freeze_count() walks every frozen object (17 ms
        # with 1000 route files imported), so it cannot come with each freeze.
        self._froze_first: bool | None = None
        self._lock = threading.Lock()

    def freeze(self) -> None:
        """Every object alive now out of the collector's reach, after a collection of the
        young generations (so that their garbage is not frozen)."""
        with self._lock:
            if self._froze_first is None:
                self._froze_first = gc.get_freeze_count() == 0
            gc.collect(1)
            gc.freeze()

    def is_set(self) -> bool:
        return self._count > 0

    def enter(self) -> None:
        with self._lock:
            if self._count == 0:
                # A freeze the process did itself (before forking workers, say) is left as it
                # is: then nothing is unfrozen (gc.unfreeze gives back all or nothing). Under
                # `run` nothing is ever unfrozen, so nothing needs counting (it walks every
                # frozen object). What our first freeze found may be out of date (the process
                # unfroze since): only its "ours" is taken, else the count is asked now.
                self._ours = failure.supervisor_from_env() is None and (
                    self._froze_first is True or gc.get_freeze_count() == 0)
            self._count += 1

    def leave(self) -> None:
        with self._lock:
            self._count -= 1
            if self._count == 0:
                if self._ours and failure.supervisor_from_env() is None:
                    gc.unfreeze()
                self._froze_first = None  # the next serve asks afresh


SERVING = _Serving()
