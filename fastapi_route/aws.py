"""AWS Lambda: `fastapi_route.aws.handler`, the app of `fastapi_route.asgi:app` behind Mangum.

    pip install 'fastapi-route[aws]'
    # the function's handler: fastapi_route.aws.handler
    # its environment: FASTAPI_ROUTE_APP=myapp (an installed app's package, whose wheel carries
    # the cache), or FASTAPI_ROUTE_PROJECT=/var/task/my-api (a built project folder)

The same variables as `fastapi_route.asgi:app` choose the project and the flags (asgi.py reads
them, here as there). What differs is what fits a process that Lambda starts for a cold
instance and bills by the millisecond (docs/decisions.md, "AWS Lambda"; the cold start is
measured by bench/aws_cold.py):

- the schedule is `lazy` unless FASTAPI_ROUTE_SCHEDULE says otherwise: the first event
  imports and registers the route files it needs and nothing else, and no warm-up runs
  in the background (between events Lambda freezes the process; during one, a warm-up would
  compete with the request being billed);
- the cache is not compared with the route files (the stale check walks the tree and hashes
  every file: 20 ms at 1000 files) unless FASTAPI_ROUTE_STRICT=1: nothing writes to a
  Lambda deployment, so its files are the ones built, unless the cache was packaged stale,
  which `fastapi-route status` tells before packaging and STRICT refuses at the start;
- the app is built on the first event, not at import: importing this module costs Mangum
  and a few of our modules, and a failed build is an error of each event, with its message
  (`StartFailed`), rather than an import traceback;
- the garbage collector is paused while the app is made (FastAPI's import included), and
  what was made is frozen after: its allocations would otherwise set off full collections
  over everything FastAPI and pydantic made at import;
- the app's lifespan (app.py's) runs once per process, started on the first event and kept
  running between events; its shutdown half runs on SIGTERM, which Lambda sends before it
  ends an instance that has an extension, and at a normal exit (a local run, a test).
  Mangum's own lifespan="auto" would start it and shut it down around every event, so
  Mangum gets lifespan="off" and this module runs it.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import signal
import threading
import warnings
from typing import Any

try:
    from mangum import Mangum
except ImportError:  # the extra is not installed: one line that says what to do
    raise ImportError(
        "fastapi_route.aws needs Mangum (the ASGI adapter for AWS Lambda): "
        "pip install 'fastapi-route[aws]'"
    ) from None

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .asgi import DeferredApp, create_from_env
from .errors import FastAPIRouteError
from .runtime import collector
from .runtime.failure import describe

SCHEDULE = "lazy"  # when FASTAPI_ROUTE_SCHEDULE is unset
log = logging.getLogger("fastapi_route")


class StartFailed(FastAPIRouteError):
    """The app could not start (no valid build, a project that fails to import, a lifespan
    that raises): raised from every event, so that Lambda reports an invocation error whose
    message says what to mend, and API Gateway answers 502."""


class Handler:
    """A Lambda handler serving the project the environment names, built on its first event
    (once per process). `mangum_options` go to `Mangum(...)` (`api_gateway_base_path`,
    `text_mime_types`, `exclude_headers`, `custom_handlers`); the lifespan is ours."""

    def __init__(self, **mangum_options: Any) -> None:
        if "lifespan" in mangum_options:
            raise TypeError("fastapi_route.aws runs the app's lifespan once per process itself; "
                            "`lifespan` is not an option")
        self.options = mangum_options
        self.app = DeferredApp(lambda: create_from_env(default_schedule=SCHEDULE, unchanged=True))
        self._adapter: Mangum | None = None
        self._lifespan: Lifespan | None = None
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        adapter = self._adapter or self._start()
        return adapter(event, context)

    def _start(self) -> Mangum:
        with self._lock, collector.held_back():
            if self._adapter is not None:
                return self._adapter
            # Mangum first: a recent one sets up the event loop its events run on.
            adapter = Mangum(self._serve, lifespan="off", **self.options)
            loop = _event_loop()
            lifespan = Lifespan(self.app)
            # A build failure is kept (the DeferredApp reports it again at once); a lifespan
            # that failed is started again by the next event, as a new instance would.
            failed = loop.run_until_complete(lifespan.start())
            if failed is not None:
                raise StartFailed(failed) from None
            self._lifespan = lifespan
            _stop_on_exit(loop, lifespan)
            self._adapter = adapter
            collector.keep()
            return adapter

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, each request with its own copy of the lifespan's state (as uvicorn
        gives it: `yield {"db": ...}` in a lifespan, `request.state.db` in a handler)."""
        if self._lifespan is not None and scope["type"] in ("http", "websocket"):
            scope["state"] = dict(self._lifespan.state)
        await self.app(scope, receive, send)


class Lifespan:
    """One ASGI lifespan of `app`: started on the first event, then left waiting for its
    shutdown on the event loop, which runs again for every event (Lambda freezes the process
    in between, so it costs nothing there)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._asked_startup = False

    async def start(self) -> str | None:
        """Run the startup half: None once it completed, else the message it failed with."""
        loop = asyncio.get_running_loop()
        self._started: asyncio.Future[str | None] = loop.create_future()
        self._stopped: asyncio.Future[None] = loop.create_future()
        self._stopping = asyncio.Event()
        self._task = loop.create_task(self._run())
        return await self._started

    async def stop(self) -> None:
        """Run the shutdown half, and wait for it."""
        self._stopping.set()
        await self._stopped

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as exc:  # a failed shutdown (a failed start is a message, below)
            _settle(self._started, f"the app's lifespan failed: {describe(exc)}")
            log.error("the app's lifespan failed: %s", describe(exc))
        finally:
            _settle(self._started, None)  # ended without a word: no lifespan to run
            _settle(self._stopped, None)

    async def _receive(self) -> Message:
        if not self._asked_startup:
            self._asked_startup = True
            return {"type": "lifespan.startup"}
        await self._stopping.wait()
        return {"type": "lifespan.shutdown"}

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            _settle(self._started, None)
        elif kind == "lifespan.startup.failed":
            _settle(self._started, str(message.get("message") or "the app failed to start"))
        elif kind == "lifespan.shutdown.failed":
            log.error("the app's lifespan shutdown failed: %s", message.get("message", ""))


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _event_loop() -> asyncio.AbstractEventLoop:
    """The loop Mangum runs every event on: asyncio's current one, made if there is none
    (Mangum before 0.19 asks asyncio for it without making one)."""
    with warnings.catch_warnings():  # Python 3.12+ warns where it would make one itself
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = None
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop


def _stop_on_exit(loop: asyncio.AbstractEventLoop, lifespan: Lifespan) -> None:
    """Run the lifespan's shutdown when the process ends: on SIGTERM (Lambda sends it before
    ending an instance that has an extension, with half a second to spare), after which it
    ends as SIGTERM would have, and at a normal exit (a local run, a test). The SIGTERM
    handler is set only where the process left SIGTERM alone: a handler of the user's own
    stays theirs."""

    def shut_down() -> None:
        # Between events the loop is idle (the runtime waits for the next event); during
        # one, it is running and the shutdown cannot run in it.
        if not loop.is_running() and not loop.is_closed():
            loop.run_until_complete(lifespan.stop())

    atexit.register(shut_down)
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        return

    def terminated(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        atexit.unregister(shut_down)
        shut_down()
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, terminated)


handler = Handler()
