"""config.py's `health` probes (SPEC 13.1): a liveness path, and a readiness path that says
whether the server is complete.

`live` answers 200 while the process serves. `ready` answers 503 `starting` until every route
file of the app is imported, 503 `failed` from the moment one is known to fail to import
(under `lazy`, where nothing is imported before a request needs it, the only 503 but
draining), and 503 `draining` once the process has been told to stop (SIGTERM or SIGINT),
else 200. With a readiness path `run` binds before importing the route files
(`OnDemandRoutes.import_rest`), so a load balancer or Kubernetes sends traffic only to a
server that has them all; a file that fails to import stops `run` as before.

The probes are plain Starlette routes placed first in the router: not in the OpenAPI
document, under the app's middleware (app.py's, middleware.py's) but no layout's, and not
shadowed by a root catch-all (the build's SHADOWED_ROUTE check knows them).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..settings import HealthConfig

_NO_STORE = {"Cache-Control": "no-store"}  # a cached "ready" would outlive the state


class _Draining:
    """Whether this process has been told to stop (set by a signal while a lifespan with a
    readiness path runs; see `watching`)."""

    def __init__(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """For the length of the block, SIGTERM and SIGINT also mark the process as draining,
        then do what they did (the server's own handlers: uvicorn's graceful shutdown). The
        server installs its handlers before the lifespan starts, so they are chained, not
        replaced; outside the main thread (no signal handlers there) nothing changes."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._set = False  # a new serve of this process (a test suite serves many)
        chained: dict[int, Any] = {}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self.set()
            before = chained.get(signum)
            if callable(before):
                before(signum, frame)
            elif before == signal.SIG_DFL:  # as if we were not there: the default action
                signal.signal(signum, before)
                signal.raise_signal(signum)

        for signum in (signal.SIGTERM, signal.SIGINT):
            chained[signum] = signal.signal(signum, on_signal)
        try:
            yield
        finally:
            for stopped, before in chained.items():
                # Put back only our own: the server may have restored its predecessors already.
                if signal.getsignal(stopped) is on_signal and before is not None:
                    signal.signal(stopped, before)


DRAINING = _Draining()


def install(app: FastAPI, health: HealthConfig, not_ready: Callable[[], str | None]) -> None:
    """Put config.py's probe paths first in the app's router; `not_ready()` says why the app
    is not complete ("starting", "failed"), None when it is."""

    async def readiness(request: Request) -> Response:
        if DRAINING.is_set():
            return PlainTextResponse("draining", 503, headers=_NO_STORE)
        why = not_ready()  # "starting": files left to import; "failed": one failed
        if why is not None:
            return PlainTextResponse(why, 503, headers=_NO_STORE)
        return PlainTextResponse("ready", headers=_NO_STORE)

    async def liveness(request: Request) -> Response:
        return PlainTextResponse("alive", headers=_NO_STORE)

    probes = [Route(path, endpoint, methods=["GET"], include_in_schema=False, name=name)
              for path, endpoint, name in ((health.ready, readiness, "readiness"),
                                           (health.live, liveness, "liveness"))
              if path is not None]
    app.router.routes[0:0] = probes
