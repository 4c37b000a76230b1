"""The first /openapi.json without stopping the server (issue 17).

FastAPI's own `/openapi.json` route (added by `FastAPI.setup`, on 0.110 as on 0.16x) is an
`async def` that calls `app.openapi()` on the event loop and renders it with `JSONResponse`:
while that runs, every other request waits. Under `run` that is three long stretches of CPU
work: every route made real (`OnDemandRoutes.keep_openapi_complete`), FastAPI's `get_openapi`
over them all (about 0.7 s at 1000 route files, 4 s at 5000, in one call), and one `json.dumps`
of the whole document (1 MB at 1000 route files; C code that never lets go of the GIL).

So the route's ASGI app is wrapped here, and the request waits for the document to be made
elsewhere while the loop serves other requests.

In a server process (`run`, the asgi entry point) on Linux, elsewhere is a forked child
(`forked`, issue 19): the loop stops only for the fork (4 ms at 1000 model files, 20 ms at
10,000), and the child, a copy of the app, makes every route real at full speed, makes the
document and sends back its JSON. The server neither registers the routes for it (its
warm-up waits meanwhile: `OnDemandRoutes.held_back`) nor holds the document (only its
bytes, kept for the router's list it was made from: `run` never changes it, as FastAPI keeps
its document). A thread was
not enough: the document's two longest calls (validating the whole of it as pydantic's
`OpenAPI` model, and dumping it) hold the interpreter from start to end, 140 ms at 1000 model
files, 1.6 s at 10,000. A child that fails (the document raises, the child is killed) leaves
the work to the thread below, from then on; so does a document FastAPI already holds (a
direct `app.openapi()` made it), and any app that is not a server's (a test's, an included
tree's, `dev`'s: not ours to fork). In the thread:

1. every route is made real in slices with pauses, as the warm-up does (with it: the warm-up's
   slices get longer while a request waits; see `OnDemandRoutes.make_all_real`);
2. `app.openapi()` (FastAPI's, or the one `configure` put in its place: the same function a
   direct call runs) is called in a thread of its own, which also renders the JSON, piece by
   piece (`render`: the bytes JSONResponse makes, in small `json.dumps` calls between which
   the GIL can change hands). `get_openapi` cannot be cut into pieces with FastAPI's public
   API: it collects every route's fields, names every model once over all of them (name
   clashes, -Input/-Output) and only then writes the paths. In a thread it holds the GIL for a
   switch interval at a time; the interval is lowered to SWITCH_INTERVAL while the thread
   works, so that the loop and the threads of sync handlers get the interpreter back within a
   millisecond instead of five. Once it is made, that thread gives back to the system what the
   C allocator kept from its peak (`collector.give_back`: at 1000 model files, 34 of the 86 MiB
   the first document added to RSS).

The request is then answered with those bytes, which is what FastAPI's endpoint answers. A
request with a `root_path` (behind a proxy, or FastAPI's own `root_path`) gets it first in
`servers`, as FastAPI's endpoint puts it (`with_root_path`): the child makes that document,
one child per root path, kept for up to MAX_ROOT_PATHS of them. In the thread's way, or past
that many, FastAPI's endpoint runs as before, after step 1 (FastAPI 0.110 adds the root path
to `app.servers` before it makes the document, so the document cannot be made ahead of it).
Concurrent requests share one document; each request's JSON is rendered anew from what
`app.openapi()` returns (FastAPI caches the document, not its JSON). `app.openapi()` called
directly still makes the whole document synchronously, as FastAPI's does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import collector, forked, hugepages
from .switching import switch_interval_at_most

if TYPE_CHECKING:
    from .ondemand import OnDemandRoutes

log = logging.getLogger("fastapi_route")

# The interpreter's switch interval while the document is made in its thread (default 5 ms).
SWITCH_INTERVAL = 0.001
# The third threshold while the document is made: more collections of the middle generation
# than it will see, so none of the oldest.
FULL_COLLECTIONS_HELD = 1_000_000
# How deep `render` splits objects: the document, its paths, each path, each operation.
RENDER_DEPTH = 3
# How long the first request waits before it tries again for the trees' locks (a thread
# running a sync handler is making a route real) to fork.
LOCK_RETRY = 0.001
# Documents kept per root path (a proxy sends one; a forged header many: past this many,
# made as FastAPI makes them, not kept).
MAX_ROOT_PATHS = 16


def fastapi_openapi_route(app: FastAPI) -> Route | None:
    """The route FastAPI's `setup` added for `app.openapi_url`, if it is there."""
    for route in app.router.routes:
        if (isinstance(route, Route) and route.path == app.openapi_url
                and getattr(route.endpoint, "__qualname__", "").startswith("FastAPI.setup.")):
            return route
    return None


def _dumps(value: Any) -> str:
    # JSONResponse.render's options (Starlette 0.36 to 1.x)
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":"))


def _pieces(value: Any, depth: int) -> str:
    if depth and type(value) is dict and all(type(key) is str for key in value):
        return "{" + ",".join(f"{_dumps(key)}:{_pieces(item, depth - 1)}"
                              for key, item in value.items()) + "}"
    return _dumps(value)


def with_root_path(document: dict[str, Any], root_path: str) -> dict[str, Any]:
    """The document as FastAPI's endpoint answers it for a request with this root path (when
    `root_path_in_servers` is on): the root path first of `servers`, unless it is there."""
    root_path = root_path.rstrip("/")
    if not root_path:
        return document
    servers = document.get("servers", [])
    if root_path in {s.get("url") for s in servers if isinstance(s, dict)}:
        return document
    return {**document, "servers": [{"url": root_path}, *servers]}


def render(document: Any) -> bytes:
    """`JSONResponse(document).body`, byte for byte, made of one `json.dumps` per operation
    and per schema instead of one for the whole document."""
    return _pieces(document, RENDER_DEPTH).encode("utf-8")


class OpenAPIRoute:
    """Makes the document off the event loop for FastAPI's OpenAPI route (see the module)."""

    def __init__(self, app: FastAPI, file_routes: OnDemandRoutes) -> None:
        self.app = app
        self.trees = [file_routes]  # every tree in the app (`include` adds one per tree)
        self.making: concurrent.futures.Future[bytes] | None = None
        self.lock = threading.Lock()
        # The document made by a forked child (`forked`), for the router's list it was made
        # from; the child under way; whether a child failed (then the thread's way for good).
        # Both by root path (FastAPI's endpoint puts it first in `servers`).
        self.by_child: dict[str, tuple[list[Any], int, bytes]] = {}
        self.forking: dict[str, concurrent.futures.Future[bytes | None]] = {}
        self.fork_tasks: set[asyncio.Task[None]] = set()  # referenced while they run
        self.child_failed = False

    def install(self) -> bool:
        """Wrap the app's OpenAPI route, if FastAPI added one; whether it did."""
        route = fastapi_openapi_route(self.app)
        if route is None:
            return False
        served: ASGIApp = route.app

        async def openapi(scope: Scope, receive: Receive, send: Send) -> None:
            root_path = scope.get("root_path", "").rstrip("/")
            if not self.app.root_path_in_servers:
                root_path = ""
            body = await self._from_child(root_path) if self._forkable() else None
            if body is None and root_path:
                await self.make_all_real()
                await served(scope, receive, send)  # FastAPI's, to add the root path
                return
            if body is None:
                body = await self.rendered()
            # What FastAPI's endpoint answers then (0.110 and 0.16x): JSONResponse(document)
            response = Response(body, media_type=JSONResponse.media_type)
            await response(scope, receive, send)

        route.app = openapi
        return True

    async def make_all_real(self) -> None:
        for tree in self.trees:
            await tree.make_all_real(hurried=True)

    async def rendered(self) -> bytes:
        """Every route made real in slices, then `app.openapi()` and its JSON in a thread (not
        a server process's, or its child failed)."""
        await self.make_all_real()
        with self.lock:
            making = self.making
            if making is None:
                # `run --eager` made its routes before serving: frozen too, or the document's
                # allocations set off full collections over all of them
                self.trees[0].freeze_what_is_made()
                making = self.making = concurrent.futures.Future()
                threading.Thread(target=self._make, args=(making,), daemon=True,
                                 name="fastapi-route openapi").start()
        # shield: a request that goes away does not cancel the others' document
        return await asyncio.shield(asyncio.wrap_future(making))

    def _forkable(self) -> bool:
        """A server process (`run`, the asgi entry point: ours to fork) on Linux, with no
        document of FastAPI's own to render (made by a direct `app.openapi()`)."""
        return (self.trees[0].server and not self.child_failed and forked.usable()
                and self.app.openapi_schema is None)

    async def _from_child(self, root_path: str) -> bytes | None:
        """The document a forked child made for the router's list as it is (`dev` gives it a
        new list when its table changes, `include_router` after the start makes it longer;
        `run` changes neither) and this root path (a proxy's, or FastAPI's own `root_path`:
        first of `servers`, as FastAPI's endpoint adds it): made once, as FastAPI makes its
        document once. None: the child failed."""
        routes = self.app.router.routes
        with self.lock:
            made = self.by_child.get(root_path)
            if made is not None and made[0] is routes and made[1] == len(routes):
                return made[2]
            waiting = self.forking.get(root_path)
            if waiting is None:
                if (root_path not in self.by_child
                        and len(self.by_child.keys() | self.forking.keys()) >= MAX_ROOT_PATHS):
                    return None  # a child per forged root path is not to be had: FastAPI's way
                waiting = self.forking[root_path] = concurrent.futures.Future()
                # A task of its own: the request that asked first may go away; the others
                # still wait for this child.
                task = asyncio.get_running_loop().create_task(
                    self._fork(waiting, routes, root_path))
                self.fork_tasks.add(task)
                task.add_done_callback(self.fork_tasks.discard)
        # shield: a request that goes away does not cancel the others' document
        return await asyncio.shield(asyncio.wrap_future(waiting))

    async def _fork(self, done: concurrent.futures.Future[bytes | None],
                    routes: list[Any], root_path: str) -> None:
        """Fork a child that makes the document, holding every tree's locks (no thread is
        half-way through making a route real, or running a file, in the copy); `done` gets
        its bytes, or None."""
        try:
            # The fork's pause and the copies after it, cut by huge pages (`hugepages`): the
            # kernel's work, in a thread; the warm-up goes on meanwhile. An optimisation only,
            # and not while another child (another root path's) shares the server's pages:
            # each page collapsed would be a copy of one the two share.
            if len(self.forking) == 1:
                stop = threading.Event()
                try:
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(hugepages.collapse, stop=stop)
                finally:
                    stop.set()  # cancelled (the loop is closing): the thread stops too
            locks = [lock for tree in self.trees for lock in (tree.lock, tree.modules.lock)]
            while True:  # all or none: never one held while waiting for another
                held = [lock for lock in locks if lock.acquire(blocking=False)]
                if len(held) == len(locks):
                    break
                for lock in held:
                    lock.release()
                await asyncio.sleep(LOCK_RETRY)
            try:
                self._hold_back(True)  # `_child_done` lets it go, whatever happens
                child = forked.start(lambda: self._document(root_path))
            finally:
                for lock in held:
                    lock.release()
        except asyncio.CancelledError:  # the loop is closing: the next one forks
            self._child_done(None, done, routes, root_path, failed=False)
            raise
        except Exception as exc:  # no fork, or no thread to read it (no memory, no pids)
            log.warning("fastapi-route: the OpenAPI document is made in the server: %s", exc)
            self._child_done(None, done, routes, root_path)
            return
        child.add_done_callback(
            lambda f: self._child_done(f.result(), done, routes, root_path))

    def _document(self, root_path: str) -> bytes:
        """In the child: every route made real, the document, its JSON (what FastAPI's
        endpoint answers, `render`'s bytes; in one piece: nothing else runs there). A route
        that fails to be made here, in a copy that logs nothing and may lack what the server
        has open, fails the child: the server makes the document itself and reports it."""
        failed = self._failed()
        document = self.app.openapi()
        if self._failed() != failed:
            raise RuntimeError("a route could not be made in the child")
        return _dumps(with_root_path(document, root_path)).encode("utf-8")

    def _failed(self) -> int:
        return sum(lazy.error is not None for tree in self.trees for lazy in tree.lazy)

    def _child_done(self, body: bytes | None, done: concurrent.futures.Future[bytes | None],
                    routes: list[Any], root_path: str, failed: bool = True) -> None:
        with self.lock:
            if body is None:
                self.child_failed = failed
            else:
                self.by_child[root_path] = (routes, len(routes), body)
            self.forking.pop(root_path, None)
            if not self.forking:
                self._hold_back(False)
        done.set_result(body)

    def _hold_back(self, held: bool) -> None:
        """The warm-up of every tree waits while a child works (`OnDemandRoutes.held_back`)."""
        for tree in self.trees:
            tree.held_back = held

    def _make(self, making: concurrent.futures.Future[bytes]) -> None:
        making.set_running_or_notify_cancel()
        # No full collection while the document grows: each would walk all of it so far, in
        # this thread but holding the GIL (five of 12-185 ms at 5000 route files). The young
        # generations are still collected.
        thresholds = gc.get_threshold()
        made = self.app.openapi_schema is None  # not FastAPI's cached document: a peak
        try:
            with switch_interval_at_most(SWITCH_INTERVAL):
                gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTIONS_HELD)
                try:
                    body = render(self.app.openapi())
                finally:
                    self._done(thresholds)
        except BaseException as exc:  # the requests that wait for it raise it
            making.set_exception(exc)
        else:
            making.set_result(body)
            if made:
                # Once the waiters have their answer (52-94 ms at 10,000 route files is not
                # theirs to wait for): what the C allocator kept from the document's peak,
                # given back (`collector.give_back`, off the GIL; at 1000 model files
                # 215 -> 183 MiB in-process). Memory only: nothing may fail the document.
                with contextlib.suppress(Exception):
                    collector.give_back()

    def _done(self, thresholds: tuple[int, int, int]) -> None:
        """Before the waiters wake up: the collector's thresholds back (under `run`, the
        document, kept by FastAPI, frozen first), and the next request asks for the document
        anew (from FastAPI's cache, or again after a failure)."""
        self.trees[0].freeze_what_is_made()
        gc.set_threshold(*thresholds)
        with self.lock:
            self.making = None
