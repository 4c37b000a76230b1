"""The first /openapi.json without stopping the server (issue 17).

FastAPI's own `/openapi.json` route (added by `FastAPI.setup`, on 0.110 as on 0.16x) is an
`async def` that calls `app.openapi()` on the event loop: while the document is made, every
other request waits. Under `run` that is two long stretches of CPU work: every route made real
(`OnDemandRoutes.keep_openapi_complete`), then FastAPI's `get_openapi` over them all (about
0.7 s at 1000 route files, 4 s at 5000, all of it in one call).

So the route's ASGI app is wrapped here, and before FastAPI's endpoint runs, the request waits
for the document to be made elsewhere:

1. every route is made real in slices with pauses, as the warm-up does (with it: the warm-up's
   slices get longer while a request waits; see `OnDemandRoutes.make_all_real`);
2. `app.openapi()` (FastAPI's, or the one `configure` put in its place: the same function a
   direct call runs) is called in a thread of its own. `get_openapi` cannot be cut into pieces
   with FastAPI's public API: it collects every route's fields, names every model once over all
   of them (name clashes, -Input/-Output) and only then writes the paths. In a thread it holds
   the GIL for a switch interval at a time; the interval is lowered to SWITCH_INTERVAL while the
   thread works, so that the loop and the threads of sync handlers get the interpreter back
   within a millisecond instead of five.

FastAPI's endpoint then runs as before (its `root_path` handling included) and its
`app.openapi()` gets the document just made (a context variable, set for this request only),
so a custom `app.openapi` that does not cache is not run twice, once of them on the loop.
Concurrent first requests share one document; `app.openapi()` called directly still makes the
whole document synchronously, as FastAPI's does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from .ondemand import OnDemandRoutes

Document = dict[str, Any]
# The document a request to the OpenAPI route waited for, while FastAPI's endpoint runs.
document_made: ContextVar[Document | None] = ContextVar("fastapi_route_openapi", default=None)
# The interpreter's switch interval while the document is made in its thread (default 5 ms).
SWITCH_INTERVAL = 0.001


def fastapi_openapi_route(app: FastAPI) -> Route | None:
    """The route FastAPI's `setup` added for `app.openapi_url`, if it is there."""
    for route in app.router.routes:
        if (isinstance(route, Route) and route.path == app.openapi_url
                and getattr(route.endpoint, "__qualname__", "").startswith("FastAPI.setup.")):
            return route
    return None


class OpenAPIRoute:
    """Makes the document off the event loop for FastAPI's OpenAPI route (see the module)."""

    def __init__(self, app: FastAPI, file_routes: OnDemandRoutes) -> None:
        self.app = app
        self.file_routes = file_routes
        self.making: concurrent.futures.Future[Document] | None = None
        self.lock = threading.Lock()

    def install(self) -> bool:
        """Wrap the app's OpenAPI route, if FastAPI added one; whether it did."""
        route = fastapi_openapi_route(self.app)
        if route is None:
            return False
        served: ASGIApp = route.app

        async def openapi(scope: Scope, receive: Receive, send: Send) -> None:
            token = document_made.set(await self.document())
            try:
                await served(scope, receive, send)
            finally:
                document_made.reset(token)

        route.app = openapi
        return True

    async def document(self) -> Document:
        """Every route made real in slices, then `app.openapi()` in a thread: the document."""
        await self.file_routes.make_all_real(hurried=True)
        with self.lock:
            making = self.making
            if making is None:
                # `run --eager` made its routes before serving: frozen too, or the document's
                # allocations set off full collections over all of them
                self.file_routes.freeze_what_is_made()
                making = self.making = concurrent.futures.Future()
                threading.Thread(target=self._make, args=(making,), daemon=True,
                                 name="fastapi-route openapi").start()
        # shield: a request that goes away does not cancel the others' document
        return await asyncio.shield(asyncio.wrap_future(making))

    def _make(self, making: concurrent.futures.Future[Document]) -> None:
        making.set_running_or_notify_cancel()
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
        try:
            document = self.app.openapi()
        except BaseException as exc:  # the requests that wait for it raise it
            self._done(interval)
            making.set_exception(exc)
        else:
            self._done(interval)
            making.set_result(document)

    def _done(self, interval: float) -> None:
        """Before the waiters wake up: the switch interval back, and the next request asks
        for the document anew (from FastAPI's cache, or again after a failure)."""
        sys.setswitchinterval(interval)
        with self.lock:
            self.making = None
