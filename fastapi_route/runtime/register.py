"""Route table -> FastAPI routes, with the user's own functions as the endpoints.

Everything that adapts a handler happens once, here, at registration: FastAPI then sees an
ordinary endpoint and does its own typing, validation, dependency injection and OpenAPI.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import re
import typing
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound, compile_path
from starlette.types import Receive, Scope, Send

from ..errors import FastAPIRouteError
from ..table import Route
from .dispatch import get_route_path
from .modules import ProjectModules

log = logging.getLogger("fastapi_route")

# Attribute set by the @route decorator: extra keyword arguments for add_api_route.
ROUTE_OPTIONS = "__fastapi_route_options__"


def route(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Pass FastAPI route options (status_code, response_model, tags, ...) to a handler."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(func, ROUTE_OPTIONS, options)
        return func

    return mark


class FileRoute(APIRoute):
    """An APIRoute that answers HEAD for GET (unless the path has a HEAD handler of its own)
    and lists every method of its path in a 405's Allow header."""

    allow: str  # every method of the path, set by add_route
    answers_head: bool = False  # a GET route of a path without its own HEAD handler
    methods: set[str]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.PARTIAL and self.answers_head and scope["method"] == "HEAD":
            return Match.FULL, child
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method in self.methods or (method == "HEAD" and self.answers_head):
            await self.app(scope, receive, send)
            return
        headers = {"Allow": self.allow}
        if "app" in scope:
            raise StarletteHTTPException(status_code=405, headers=headers)
        await PlainTextResponse("Method Not Allowed", 405, headers=headers)(scope, receive, send)


def to_response(result: Any) -> Any:
    """`(body, status[, headers])` and `None` become responses; anything else goes to FastAPI."""
    if result is None:
        return Response(status_code=204)
    if isinstance(result, tuple) and len(result) in (2, 3) and isinstance(result[1], int):
        body, status = result[0], result[1]
        headers = result[2] if len(result) == 3 else None
        if isinstance(body, Response):
            body.status_code = status
            if headers:
                body.headers.update(headers)
            return body
        if body is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)
    return result


def _resolved_signature(func: Callable[..., Any]) -> inspect.Signature:
    """The signature with string annotations (PEP 563) evaluated in the handler's module."""
    signature = inspect.signature(func)
    annotations = [p.annotation for p in signature.parameters.values()]
    if not any(isinstance(a, str) for a in (*annotations, signature.return_annotation)):
        return signature  # already objects: get_type_hints would only cost start-up time
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # an unresolvable hint: let FastAPI report it its own way
        return signature
    params = [p.replace(annotation=hints.get(p.name, p.annotation))
              for p in signature.parameters.values()]
    return signature.replace(
        parameters=params, return_annotation=hints.get("return", signature.return_annotation)
    )


def _as_seen_by_fastapi(param: inspect.Parameter, catchall: str | None) -> inspect.Parameter:
    if param.name == catchall:
        return param.replace(annotation=str)  # its {name:path} convertor gives a string
    if param.name == "request" and param.annotation is inspect.Parameter.empty:
        return param.replace(annotation=Request)  # not a query parameter named "request"
    return param


def endpoint_for(
    func: Callable[..., Any], catchall: str | None
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The callable FastAPI registers for a handler, and the route options it implies.

    One thin function, made here once, calls the user's function: it turns a catch-all's
    string into a list of segments and a `(body, status[, headers])` or `None` return into a
    response, whatever the handler's annotation says (SPEC 2). Its signature is what FastAPI
    inspects: the handler's own, with an unannotated `request` as the Request, a catch-all
    typed `str` and a tuple return type dropped. A precise return type stays FastAPI's
    response model; `-> None` means 204.
    """
    options: dict[str, Any] = dict(getattr(func, ROUTE_OPTIONS, {}))
    signature = _resolved_signature(func)
    returns = signature.return_annotation
    if returns is None or returns is type(None):
        options.setdefault("status_code", 204)
        options.setdefault("response_model", None)
        returns = None
    elif _is_tuple(returns):
        returns = inspect.Signature.empty
    seen = signature.replace(
        parameters=[_as_seen_by_fastapi(p, catchall) for p in signature.parameters.values()],
        return_annotation=returns,
    )
    endpoint: Any  # a function that also gets a __signature__
    if inspect.iscoroutinefunction(func):

        async def endpoint(**kwargs: Any) -> Any:
            if catchall is not None:
                kwargs[catchall] = _segments(kwargs[catchall])
            result = await func(**kwargs)
            return to_response(result) if result is None or type(result) is tuple else result

    else:

        def endpoint(**kwargs: Any) -> Any:
            if catchall is not None:
                kwargs[catchall] = _segments(kwargs[catchall])
            result = func(**kwargs)
            return to_response(result) if result is None or type(result) is tuple else result

    functools.update_wrapper(endpoint, func)
    endpoint.__signature__ = seen  # what FastAPI inspects, once, at registration
    return endpoint, options


def _segments(value: str) -> list[str]:
    return value.split("/") if value else []


def _is_tuple(annotation: Any) -> bool:
    return annotation is tuple or typing.get_origin(annotation) is tuple


def handler_of(modules: ProjectModules, r: Route) -> Callable[..., Any]:
    module = modules.load(r.file)
    func = getattr(module, r.method, None)
    if not callable(func):
        raise FastAPIRouteError(
            f"{r.file}:{r.line} {r.method} is not callable after import",
            "the cache may be stale: run 'fastapi-route build'",
        )
    return func  # type: ignore[no-any-return]


def path_methods(routes: Sequence[Route]) -> dict[str, set[str]]:
    """The methods each path has handlers for."""
    methods: dict[str, set[str]] = {}
    for r in routes:
        methods.setdefault(r.path, set()).add(r.method)
    return methods


def add_route(
    router: APIRouter, r: Route, func: Callable[..., Any], methods: set[str]
) -> FileRoute:
    """FastAPI's own add_api_route (router defaults, dependency graph), as a FileRoute;
    `methods` are all those of the route's path."""
    try:
        endpoint, options = endpoint_for(func, r.catchall)
        options.setdefault("name", f"{r.method} {r.path}")
        router.add_api_route(
            r.path, endpoint, methods=[r.method], route_class_override=FileRoute, **options
        )
    except Exception as exc:  # FastAPI's verdict on a signature, a Depends, an option
        raise FastAPIRouteError(
            f"{r.file}:{r.line} {r.method} {r.path} cannot be registered with FastAPI: "
            f"{type(exc).__name__}: {exc}",
            "fix the handler's parameters, their types, or its @route(...) options",
        ) from exc
    added = router.routes[-1]
    assert isinstance(added, FileRoute)
    added.answers_head = r.method == "GET" and "HEAD" not in methods
    allow = methods | {"HEAD"} if "GET" in methods else methods
    added.allow = ", ".join(sorted(allow))
    return added


class LazyRoute(BaseRoute):
    """Stands in for a FileRoute until a request reaches its path.

    Startup then costs one regex per route. The first request whose path matches imports the
    handler, builds the real route exactly as eager mode would, and puts it in this route's
    place in the router, so from then on the app is the eager app. A handler that fails to
    import answers 500 (and is logged); the other routes are unaffected.
    """

    indexable = True  # a plain path route to the dispatcher's trie

    def __init__(
        self, app: FastAPI, r: Route, modules: ProjectModules, methods: set[str], position: int
    ) -> None:
        self.app_ref = app
        self.record = r
        self.modules = modules
        self.path_methods = methods
        self.position = position  # where it stands in the router's list, to swap it out
        self.path = r.path
        self.name = f"{r.method} {r.path}"
        # The text before the first parameter: a static route is matched by string equality
        # and a dynamic one compiles its regex only once a path starts with this prefix.
        self.prefix = r.path.split("{", 1)[0]
        self.pattern: re.Pattern[str] | None = None
        self.real: FileRoute | None = None
        self.error: Exception | None = None

    def materialize(self) -> FileRoute | None:
        if self.real is None and self.error is None:
            try:
                func = handler_of(self.modules, self.record)
                scratch = copy.copy(self.app_ref.router)  # same defaults, its own route list
                scratch.routes = []
                self.real = add_route(scratch, self.record, func, self.path_methods)
            except Exception as exc:
                self.error = exc
                log.error("%s %s cannot be served: %s", self.record.method, self.path, exc,
                          exc_info=exc)
                return None
            routes = self.app_ref.router.routes
            if not (self.position < len(routes) and routes[self.position] is self):
                # routes were inserted before this one since registration: look it up
                self.position = next(i for i, x in enumerate(routes) if x is self)
            routes[self.position] = self.real  # same length: safe while the router iterates
            dispatcher = getattr(self.app_ref.state, "dispatcher", None)
            if dispatcher is not None:
                dispatcher.routes_replaced()
        return self.real

    def _path_matches(self, path: str) -> bool:
        if not self.record.params:
            return path == self.path
        if not path.startswith(self.prefix):
            return False
        if self.pattern is None:
            self.pattern = compile_path(self.path)[0]
        return self.pattern.match(path) is not None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not self._path_matches(get_route_path(scope)):
            return Match.NONE, {}
        real = self.materialize()
        if real is None:
            return Match.FULL, {"route": self}
        return real.matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        real = self.materialize()
        if real is None:
            await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)
            return
        await real.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        real = self.materialize()
        if real is None:
            raise NoMatchFound(name, path_params)
        return real.url_path_for(name, **path_params)


def materialize_all(app: FastAPI) -> None:
    for existing in list(app.router.routes):
        if isinstance(existing, LazyRoute):
            existing.materialize()


def register(
    app: FastAPI, routes: Sequence[Route], modules: ProjectModules, *, lazy: bool = False
) -> None:
    """Add every route to the app in the table's precedence order: imported now (eager), or
    on the first request that reaches it (lazy, with OpenAPI built on its first request)."""
    methods = path_methods(routes)
    if not lazy:
        for r in routes:
            add_route(app.router, r, handler_of(modules, r), methods[r.path])
        return
    start = len(app.router.routes)
    app.router.routes.extend(
        LazyRoute(app, r, modules, methods[r.path], start + i) for i, r in enumerate(routes)
    )
    eager_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        materialize_all(app)
        return eager_openapi()

    app.openapi = openapi  # type: ignore[method-assign]
