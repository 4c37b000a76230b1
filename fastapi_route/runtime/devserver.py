"""`fastapi-route dev`: one process that swaps a changed route tree into the running app.

A save under `routes/` (a route file, a layout, a helper, a new folder) is re-scanned (only
the files that changed are parsed again), validated and swapped into the running app: the
modules under `routes/` are dropped and each is imported again by the next request that needs
it. A save anywhere else in the project (`config.py`, `app.py`, `middleware.py`, helpers)
restarts the process, after the lifespan has shut down, so that state a lifespan built is never
split between two copies of a module. A broken tree answers every request with the error page
until a save fixes it; a file or folder that vanishes while the tree is read (a rename, a
delete) is no error, the tree is read again. Once a new table is installed nothing holds the
previous route modules (FastAPI's and typing's memo caches are emptied: `caches`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePath
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ..config import Config
from ..errors import FastAPIRouteError
from ..pipeline.build import CompiledTree, compile_table
from ..pipeline.scan import Facts, TreeChanged
from ..pipeline.validate import Checked
from ..project import Project
from ..table import RouteEntry
from .app import create_app, runtime_of
from .caches import clear_memo_caches
from .errorpage import error_response
from .failure import Starting
from .ondemand import Staged
from .signals import handling
from .switching import switch_interval_at_most

log = logging.getLogger("fastapi_route")

# watchfiles yields a batch once a step of this many ms passes without a new change, so a
# save is seen 1-2 steps after it (10-20 ms; it sleeps between steps, the interpreter free),
# and at the latest DEBOUNCE_MS after the first change of a batch.
STEP_MS = 10
DEBOUNCE_MS = 400
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".tmp", ".swp", ".swx", "~")
# A tree still changing under this many scans in a row is left to the watcher's next batch
# (whatever vanished during the last scan is a change it has seen).
SCANS = 3
# Seconds a thread keeps the interpreter while another waits for it, during a reload.
RELOAD_SWITCH_INTERVAL = 0.0005
# Seconds the loop is left to serve between a reload's swap and its collection.
SWAP_PAUSE = 0.002


@dataclass
class _Prepared:
    """A table read, validated and staged, to swap in (`DevApp.reload`). The staged
    stand-ins are taken out as they are installed: they hold the previous ones, which must
    not be alive when the heap is frozen (the future of a worker thread may hold this)."""

    table: CompiledTree
    staged: Staged | None


class DevApp:
    """The ASGI app uvicorn serves: the project's app, or its error page while it is broken.

    `freeze`: after the first build and after each reload, every object alive goes out of
    the garbage collector's reach (`_settle`), so that the collections a reload sets off do
    not walk the facts of thousands of files and the app's whole heap (the `dev` command)."""

    def __init__(self, project: Project, config: Config, *, freeze: bool = False) -> None:
        self.project = project
        self.config = config
        self.facts = Facts()
        self.checked = Checked()
        # The table's records by value: a reload keeps the records that did not change (they
        # are frozen: the collection after a reload walks only what is new).
        self._records: dict[RouteEntry, RouteEntry] = {}
        self.app: FastAPI | None = None
        self.error: BaseException | None = None
        self.freeze = freeze
        self._reloading: asyncio.Lock | None = None  # made in the loop that reloads

    def build(self) -> None:
        try:
            self.app = create_app(self.project, source="scan", config=self.config,
                                  schedule="lazy", error_page=error_response, facts=self.facts,
                                  checked=self.checked)
            # Known from the start: the first reload (the watcher's, for what changed while
            # this build read the tree) keeps the records, stand-ins and index of every file
            # that did not change, instead of making all of them anew (1.1 s in the worker
            # and a collection of 570,000 objects on the loop at 10,000 model files).
            _keep_records(self._records, runtime_of(self.app).file_routes.table)
        except FastAPIRouteError as exc:
            log.error("%s", exc)
            self.error = exc
        except Exception as exc:  # the project's own code (app.py, middleware.py) raised
            log.exception("the project failed to load")
            self.error = exc
        self._settle()

    def reload_routes(self, changed: set[str] | None = None) -> None:
        """Re-read the route tree and swap it into the running app, all in this thread.
        `changed`: the paths that changed (absolute), when the facts track changes."""
        started = time.perf_counter()
        self._swapped(self._swap(self._prepare(changed)), started)

    async def reload(self, changed: set[str] | None = None) -> None:
        """`reload_routes` with the event loop free: the tree is read, validated and its
        stand-ins and their index made in a worker thread while the app keeps serving; only
        the swap runs on the loop (a few list and dict assignments). One at a time."""
        if self._reloading is None:
            self._reloading = asyncio.Lock()
        async with self._reloading:
            started = time.perf_counter()
            # The worker holds the interpreter until the loop asks for it and the switch
            # interval passes (5 ms by default), at each of the loop's wake-ups: a request
            # waits for several. Shorter while the worker runs.
            # With `freeze`, the collection after the swap takes what the reload left; no
            # collection meanwhile (each one holds the interpreter, in whichever thread
            # allocated last, and walks what the reload has made so far).
            collecting = self.freeze and gc.isenabled()
            if collecting:
                gc.disable()
            try:
                with switch_interval_at_most(RELOAD_SWITCH_INTERVAL):
                    prepared = await asyncio.to_thread(self._prepare, changed)
                routes = self._swap(prepared)
                del prepared
                # The swap and the collection after it each hold the loop (5-20 ms at 10,000
                # files): a request that came meanwhile is served between the two (a sleep of
                # 0 would run this task again before the loop reads the sockets).
                await asyncio.sleep(SWAP_PAUSE)
                # Still with no automatic collection: the first allocation after `enable`
                # would set off one over everything the worker made (the young generation
                # holds it all), on the loop, before this full one.
                self._swapped(routes, started)
            finally:
                if collecting:
                    gc.enable()

    def _prepare(self, changed: set[str] | None) -> _Prepared | FastAPIRouteError | None:
        """The new table, its stand-ins and their index, made without changing the app
        (any thread); a FastAPIRouteError for a broken tree; None while the tree keeps
        changing. A file or folder that vanishes while the tree is read (a rename, a delete)
        means "read it again", not an error; after SCANS tries the app stays as it is until
        the next change."""
        assert self.app is not None
        if changed:
            self.facts.changed(changed)
        for _ in range(SCANS):
            try:
                table = compile_table(self.project.root, self.config, facts=self.facts,
                                      checked=self.checked)
                break
            except TreeChanged as exc:
                log.debug("fastapi-route: %s; reading it again", exc.message)
                changing = exc
            except FastAPIRouteError as exc:
                return exc
        else:
            log.info("fastapi-route: %s; waiting for the next change", changing.message)
            return None
        _keep_records(self._records, table.routes)
        file_routes = runtime_of(self.app).file_routes
        staged = file_routes.stage(table.routes)
        if file_routes.dispatcher is not None:  # its index for the new list, made here
            file_routes.dispatcher.prepare(staged.router_routes, staged.keys)
        return _Prepared(table, staged)

    def _swap(self, prepared: _Prepared | FastAPIRouteError | None) -> int | None:
        """Put a prepared table in place (on the loop: nothing in between is served); how
        many routes it has, None when nothing was swapped."""
        assert self.app is not None
        if prepared is None:
            return None
        if isinstance(prepared, FastAPIRouteError):
            log.error("%s", prepared)
            self.error = prepared
            return None
        routes = prepared.table.routes
        file_routes = runtime_of(self.app).file_routes
        file_routes.modules.forget(self.config.route_dir)
        staged, prepared.staged = prepared.staged, None
        file_routes.install(routes, staged=staged)
        del staged
        if file_routes.dispatcher is not None:  # its views hold the old routes
            file_routes.dispatcher.view("/")  # takes the index made ahead, drops the views
        clear_memo_caches()  # FastAPI and typing memoise the old functions and models
        self.error = None
        return len(routes)

    def _swapped(self, routes: int | None, started: float) -> None:
        if routes is not None:
            self._settle()
            log.info("fastapi-route: %d routes reloaded in %.3f s", routes,
                     time.perf_counter() - started)

    def _settle(self) -> None:
        """With `freeze`: collect what the previous table left (its modules and real routes
        are cycles: only a full collection finds them, and it walks only what is not frozen
        yet, so mostly the new table), then freeze what is alive. The previous table's own
        objects hold no cycle: frozen or not, they go once nothing holds them."""
        if self.freeze:
            gc.collect()
            gc.freeze()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is not None and (self.error is None or scope["type"] == "lifespan"):
            await self.app(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _no_lifespan(receive, send)
        elif scope["type"] == "http":
            assert self.error is not None
            await error_response(self.error)(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocketClose(code=1011)(scope, receive, send)


def _keep_records(known: dict[RouteEntry, RouteEntry], routes: list[RouteEntry]) -> None:
    """Each record of `routes` equal to a known one made that one (the same object: what is
    made from it, and frozen, is kept), and `known` made the records of `routes`, in place:
    a new dict of 19,600 records would be one more for the collection after the swap. The
    validation hands back the very records of the files that did not change: only the
    others are looked up (a record's hash reads all its fields)."""
    before = set(map(id, known))
    routes[:] = [r if id(r) in before else known.get(r, r) for r in routes]
    now = set(map(id, routes))
    for gone in [r for r in known if id(r) not in now]:
        del known[gone]
    known.update((r, r) for r in routes if id(r) not in before)


async def _no_lifespan(receive: Receive, send: Send) -> None:
    """A project that failed to load has no lifespan of its own to run."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class Watcher:
    """Sorts saved files into: nothing to do, a new route tree, or a restart."""

    def __init__(self, project: Project, config: Config) -> None:
        root = project.root
        self.root = root
        self.routes = root / config.route_dir
        # public/ is served live and the cache is ours: neither changes the app.
        self.ignored = (root / config.static_dir, root / config.build.cache_dir)

    def sort(self, paths: set[str]) -> str | None:
        """'restart', 'routes' or None."""
        kind = None
        for path in map(Path, paths):
            name = path.name
            if ("__pycache__" in path.parts or name.endswith(_IGNORED_SUFFIXES)
                    or name.startswith(".#") or any(_inside(path, d) for d in self.ignored)):
                continue
            if _inside(path, self.routes):
                kind = kind or "routes"
            elif path.suffix == ".py" and _inside(path, self.root):
                return "restart"
        return kind


def _inside(path: PurePath, folder: PurePath) -> bool:
    return path == folder or folder in path.parents


def _forget_bytecode(paths: set[str]) -> None:
    """Python trusts a .pyc while its source keeps its size and its mtime in whole seconds:
    two saves of the same length within a second would import the first one's code."""
    for path in paths:
        if path.endswith(".py"):
            with contextlib.suppress(OSError, ValueError):
                os.unlink(importlib.util.cache_from_source(path))


async def _watch(dev: DevApp, watcher: Watcher, server: uvicorn.Server,
                 stop: asyncio.Event) -> bool:
    """Until `stop`: apply each batch of changes. True when the process must restart.

    From here on the facts are told every changed path, so that a reload walks again only the
    folders that changed; what changed before the watcher started (while the first build
    read the tree) is caught by one full reload as it starts, in the background."""
    from watchfiles import awatch

    settling: asyncio.Task[None] | None = None
    if dev.app is not None:
        dev.facts.track()
        # Runs once this task first waits: inside awatch, once its watches are set.
        settling = asyncio.create_task(dev.reload())
    try:
        async for changes in awatch(watcher.root, stop_event=stop, step=STEP_MS,
                                    debounce=DEBOUNCE_MS):
            paths = {path for _, path in changes}
            _forget_bytecode(paths)
            dev.facts.changed(paths)  # every path: a name in public/ counts for the checks
            kind = watcher.sort(paths)
            if kind == "restart" or (kind == "routes" and dev.app is None):
                log.warning("fastapi-route: a project file changed: restarting")
                server.should_exit = True
                return True
            if kind == "routes":
                await dev.reload()
        return False
    finally:
        if settling is not None and not settling.done():
            settling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await settling


def serve(project: Project, config: Config, settings: dict[str, Any]) -> None:
    """Serve the project until stopped; restart the process when a file outside routes/
    changes."""
    dev = DevApp(project, config, freeze=True)
    dev.build()
    # A lifespan that raises ends dev (exit 1) with one located message: it has no page to
    # show it on, and a save may not be what mends it (docs/decisions.md).
    server = uvicorn.Server(uvicorn.Config(Starting(dev, project.root), **settings))
    watcher = Watcher(project, config)

    async def main() -> bool:
        stop = asyncio.Event()
        watching = asyncio.create_task(_watch(dev, watcher, server, stop))
        try:
            await server.serve()
        finally:
            stop.set()
        return await watching

    # uvicorn re-raises the SIGTERM it handled once it has drained the connections: that is
    # how a server is stopped, so it ends the command with exit 0.
    with handling(signal.SIGTERM, _exit_0):
        try:
            restart = asyncio.run(main())
        except SystemExit as exc:
            if exc.code not in (0, None):  # uvicorn did not start; it logged why
                sys.exit(1)
            raise
    if not server.started and not restart:  # the same, from uvicorn < 0.30: no exit of its own
        sys.exit(1)
    if restart:
        # The same command again, in this process: a fresh interpreter, so every module
        # (app.py, config.py, ...) is read anew.
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _exit_0(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)
