"""Exception handlers: app.py's for the whole app (SPEC 9), a layout's for the HTTP routes
below its folder (SPEC 14.2).

Both take what `FastAPI(exception_handlers=...)` takes: a status code or an exception class,
mapped to `handler(request, exc)`, sync or async. app.py's go to FastAPI as they are. A
layout's handle what its routes raise, where app.py's would: Starlette's `request_response`
(FastAPI's too) looks the app's handlers up, around the route's own app, in the pair
`ExceptionMiddleware` leaves in the scope under `starlette.exception_handlers`. `Handled`
takes that place for a route below a layout with handlers: it gives the route's app an empty
pair, so whatever the route raises (its dependencies, its validation, its handler) comes out,
and looks the exception up itself, innermost layout first, then in the app's pair; nothing
found, it raises on, to the app's middleware stack as before. The layout's middleware and
app.py's therefore see the response a folder's handler made, and a dependency with `yield`
sees the exception before any handler, as with app.py's handlers.

Within one level the lookup is Starlette's: an `HTTPException` by its status code first, then
by the exception's classes, most specific first.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("fastapi_route")

Handler = Callable[[Request, Exception], Any]  # sync or async, returns a Response (or None)
AsyncHandler = Callable[[Request, Exception], Awaitable[Response | None]]

# Where Starlette's ExceptionMiddleware puts the app's handlers for the routes' own lookup:
# (by exception class, by status code). Stable since Starlette 0.28, our floor is 0.36.
SCOPE_KEY = "starlette.exception_handlers"
_NOTHING: tuple[dict[Any, Any], dict[int, Any]] = ({}, {})


def handles(key: Any) -> bool:
    """A key of `exception_handlers`: a status code or an exception class (Starlette files
    any other key as a class no exception ever is, so its handler would never run)."""
    if isinstance(key, int):
        return not isinstance(key, bool)
    return isinstance(key, type) and issubclass(key, BaseException)


def is_handlers(value: Any) -> bool:
    """Whether `value` is what `FastAPI(exception_handlers=...)` takes: the runtime's check of
    app.py's and a layout's (the build checks what the source shows, `declarations`)."""
    return isinstance(value, Mapping) and all(
        handles(key) and callable(handler) for key, handler in value.items())


def _is_async(handler: Any) -> bool:
    """A coroutine function, a partial of one, or an object whose `__call__` is one (what
    Starlette awaits rather than runs in a thread)."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        type(handler).__call__)


def _as_async(handler: Handler) -> AsyncHandler:
    """A sync handler runs in the thread pool, as Starlette runs one; decided once."""
    if _is_async(handler):
        return handler

    async def in_thread(request: Request, exc: Exception) -> Response | None:
        return await run_in_threadpool(handler, request, exc)
    return in_thread


def _lookup(by_class: Mapping[Any, Any], by_status: Mapping[int, Any],
            exc: Exception) -> Any:
    """Starlette's rule: an HTTPException's status code, then the classes, nearest first."""
    if isinstance(exc, HTTPException):
        handler = by_status.get(exc.status_code)
        if handler is not None:
            return handler
    for cls in type(exc).__mro__:
        handler = by_class.get(cls)
        if handler is not None:
            return handler
    return None


# The keys FastAPI gives Starlette's ServerErrorMiddleware rather than its
# ExceptionMiddleware: the handler of last resort, for what no other handler answers.
SERVER_ERROR_KEYS = (500, Exception)


@dataclass(frozen=True)
class Handlers:
    """One layout's handlers, split as FastAPI splits an app's, each made async once: by
    status code and by class (ExceptionMiddleware's), and for a server error (`Exception`
    or 500: ServerErrorMiddleware's, the last one of the two given)."""

    file: str  # the layout that declares them (for explain)
    by_class: Mapping[type, AsyncHandler]
    by_status: Mapping[int, AsyncHandler]
    server_error: AsyncHandler | None = None
    declared: Mapping[Any, Handler] | None = None  # as the layout wrote it (for explain)

    @classmethod
    def of(cls, file: str, handlers: Mapping[Any, Handler]) -> Handlers:
        by_class: dict[type, AsyncHandler] = {}
        by_status: dict[int, AsyncHandler] = {}
        server_error = None
        for key, handler in handlers.items():
            if key in SERVER_ERROR_KEYS:
                server_error = _as_async(handler)
            elif isinstance(key, int):
                by_status[key] = _as_async(handler)
            else:
                by_class[key] = _as_async(handler)
        return cls(file, by_class, by_status, server_error, dict(handlers))

    def lookup(self, exc: Exception) -> AsyncHandler | None:
        return _lookup(self.by_class, self.by_status, exc)  # type: ignore[no-any-return]


@functools.cache
def _warn_no_scope_key() -> None:
    """The fallback when Starlette no longer leaves the app's handlers in the scope: the
    stock behaviour (the route's app handles what app.py's handlers take, before a layout's),
    and a warning that layouts' handlers come second."""
    log.warning("this Starlette puts no %r in the scope: the app's exception handlers answer "
                "before a layout's (fastapi-route supports the Starlette releases its "
                "pyproject.toml allows)", SCOPE_KEY)


class Handled:
    """A route's app inside its layouts' exception handlers (`levels`: innermost first), then
    the app's, in the place where Starlette would have looked up the app's alone.

    As in an app, a server-error handler (`Exception` or 500) answers only what no other
    handler does (the layouts' and app.py's), the innermost layout's first. Its response is
    sent and the exception logged with its traceback, where Starlette's ServerErrorMiddleware
    raises it on for the server to log: raised inside the middleware that sees the response
    (app.py's, the layouts'), it would cut the response short under older Starlette."""

    def __init__(self, app: ASGIApp, levels: Sequence[Handlers]) -> None:
        self.app = app
        self.levels = tuple(levels)
        self.server_error = next(
            (level.server_error for level in self.levels if level.server_error), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        apps = scope.get(SCOPE_KEY)
        if apps is None:  # a Starlette that keeps the app's handlers elsewhere: say so once
            _warn_no_scope_key()
            apps = _NOTHING
        scope[SCOPE_KEY] = _NOTHING  # the route's app raises what it would have handled
        started = False
        # What the route read of the body, for the handler's Request: the route's own Request
        # (which keeps it) is not at hand here, and a new one would wait for a body the route
        # has consumed. References to the messages, not copies.
        received: list[Message] = []

        async def sender(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def receiver() -> Message:
            message = await receive()
            received.append(message)
            return message

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        try:
            await self.app(scope, receiver, sender)
        except Exception as exc:
            handler = self._lookup(exc, apps)
            if handler is None:
                if self.server_error is None or started:
                    raise
                log.error("Exception in %s %s, answered by a layout's server-error handler",
                          scope.get("method"), scope.get("path"), exc_info=exc)
                await self._answer(self.server_error, exc, scope, replay, sender)
                return
            if started:  # Starlette's words, for the same case
                raise RuntimeError(
                    "Caught handled exception, but response already started.") from exc
            await self._answer(handler, exc, scope, replay, sender)
            exc.__traceback__ = None  # a module-level instance raised again keeps no frames
        finally:
            scope[SCOPE_KEY] = apps

    @staticmethod
    async def _answer(handler: AsyncHandler, exc: Exception, scope: Scope, receive: Receive,
                      send: Send) -> None:
        response = await handler(Request(scope, receive, send), exc)
        if response is not None:
            await response(scope, receive, send)

    def _lookup(self, exc: Exception, apps: Any) -> AsyncHandler | None:
        for level in self.levels:
            handler = level.lookup(exc)
            if handler is not None:
                return handler
        by_class, by_status = apps
        found = _lookup(by_class, by_status, exc)
        return None if found is None else _as_async(found)
