"""The first /openapi.json without stopping the server (issue 17).

FastAPI's own `/openapi.json` route (added by `FastAPI.setup`, on 0.110 as on 0.16x) is an
`async def` that calls `app.openapi()` on the event loop and renders it with `JSONResponse`:
while that runs, every other request waits. Under `run` that is three long stretches of CPU
work: every route made real (`OnDemandRoutes.keep_openapi_complete`), FastAPI's `get_openapi`
over them all (about 0.7 s at 1000 route files, 4 s at 5000, in one call), and one `json.dumps`
of the whole document (1 MB at 1000 route files; C code that never lets go of the GIL).

So the route's ASGI app is wrapped here, and the request waits for the document to be made
elsewhere while the loop serves other requests:

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

The request is then answered with those bytes, which is what FastAPI's endpoint answers unless
it has a `root_path` to add to the servers: then FastAPI's endpoint runs as before, after step 1
(FastAPI 0.110 adds the root path to `app.servers` before it makes the document, so the document
cannot be made ahead of it). Concurrent requests share one document; each request's JSON is
rendered anew from what `app.openapi()` returns (FastAPI caches the document, not its JSON).
`app.openapi()` called directly still makes the whole document synchronously, as FastAPI's does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import json
import threading
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import collector
from .switching import switch_interval_at_most

if TYPE_CHECKING:
    from .ondemand import OnDemandRoutes

# The interpreter's switch interval while the document is made in its thread (default 5 ms).
SWITCH_INTERVAL = 0.001
# The third threshold while the document is made: more collections of the middle generation
# than it will see, so none of the oldest.
FULL_COLLECTIONS_HELD = 1_000_000
# How deep `render` splits objects: the document, its paths, each path, each operation.
RENDER_DEPTH = 3


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

    def install(self) -> bool:
        """Wrap the app's OpenAPI route, if FastAPI added one; whether it did."""
        route = fastapi_openapi_route(self.app)
        if route is None:
            return False
        served: ASGIApp = route.app

        async def openapi(scope: Scope, receive: Receive, send: Send) -> None:
            if scope.get("root_path", "").rstrip("/") and self.app.root_path_in_servers:
                await self.make_all_real()
                await served(scope, receive, send)  # FastAPI's, to add the root path
                return
            # What FastAPI's endpoint answers then (0.110 and 0.16x): JSONResponse(document)
            response = Response(await self.rendered(), media_type=JSONResponse.media_type)
            await response(scope, receive, send)

        route.app = openapi
        return True

    async def make_all_real(self) -> None:
        for tree in self.trees:
            await tree.make_all_real(hurried=True)

    async def rendered(self) -> bytes:
        """Every route made real in slices, then `app.openapi()` and its JSON in a thread."""
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
