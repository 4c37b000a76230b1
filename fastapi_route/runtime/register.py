"""Route table -> FastAPI routes, with the user's own functions as the endpoints.

Everything that adapts a handler happens once, here, at registration: FastAPI then sees an
ordinary endpoint and does its own typing, validation, dependency injection and OpenAPI.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from ..errors import FastAPIRouteError
from ..table import Route
from .modules import ProjectModules

# Attribute set by the @route decorator: extra keyword arguments for add_api_route.
ROUTE_OPTIONS = "__fastapi_route_options__"


def route(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Pass FastAPI route options (status_code, response_model, tags, ...) to a handler."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(func, ROUTE_OPTIONS, options)
        return func

    return mark


class FileRoute(APIRoute):
    """An APIRoute that answers HEAD for GET and lists every method of its path on a 405."""

    allow: str = ""
    methods: set[str]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.PARTIAL and scope["method"] == "HEAD" and "GET" in self.methods:
            return Match.FULL, child
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method in self.methods or (method == "HEAD" and "GET" in self.methods):
            await self.app(scope, receive, send)
            return
        headers = {"Allow": self.allow or ", ".join(sorted(self.methods))}
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
        from fastapi.encoders import jsonable_encoder

        if body is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)
    return result


def _resolved_signature(func: Callable[..., Any]) -> inspect.Signature:
    """The signature with string annotations (PEP 563) evaluated in the handler's module."""
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # an unresolvable hint: let FastAPI report it its own way
        return signature
    params = [p.replace(annotation=hints.get(p.name, p.annotation))
              for p in signature.parameters.values()]
    return signature.replace(
        parameters=params, return_annotation=hints.get("return", signature.return_annotation)
    )


def _needs_result_adapter(annotation: Any) -> bool:
    """A precise return type goes to FastAPI as the response model; anything looser may be a
    tuple or None, which this package turns into a response."""
    if annotation is inspect.Signature.empty or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is tuple or annotation is tuple:
        return True
    return origin is typing.Union or type(annotation).__name__ == "UnionType"


def endpoint_for(
    func: Callable[..., Any], catchall: str | None
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The callable FastAPI registers for a handler, and the route options it implies.

    The user's function itself when nothing needs adapting; otherwise one thin function made
    here, once, with the signature FastAPI should see (a catch-all typed `str` for its
    `{name:path}` convertor, a tuple return type dropped).
    """
    options: dict[str, Any] = dict(getattr(func, ROUTE_OPTIONS, {}))
    signature = _resolved_signature(func)
    returns = signature.return_annotation
    if returns is None or returns is type(None):
        options.setdefault("status_code", 204)
        options.setdefault("response_model", None)
        returns = None
    adapt = _needs_result_adapter(returns)
    if catchall is None and not adapt:
        return func, options

    params = list(signature.parameters.values())
    if catchall is not None:
        params = [p.replace(annotation=str) if p.name == catchall else p for p in params]
    if adapt:
        returns = inspect.Signature.empty if _is_tuple(returns) else returns
        options.setdefault("response_model", None)

    def split(kwargs: dict[str, Any]) -> None:
        if catchall is not None:
            value = kwargs[catchall]
            kwargs[catchall] = value.split("/") if value else []

    wrapper: Any  # a function that also gets a __signature__
    if inspect.iscoroutinefunction(func):

        async def async_endpoint(**kwargs: Any) -> Any:
            split(kwargs)
            result = await func(**kwargs)
            return to_response(result) if adapt else result

        wrapper = async_endpoint
    else:

        def sync_endpoint(**kwargs: Any) -> Any:
            split(kwargs)
            result = func(**kwargs)
            return to_response(result) if adapt else result

        wrapper = sync_endpoint
    functools.update_wrapper(wrapper, func)
    # What FastAPI inspects, once, at registration.
    wrapper.__signature__ = signature.replace(parameters=params, return_annotation=returns)
    return wrapper, options


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


def allowed_methods(routes: Sequence[Route]) -> dict[str, str]:
    """Every method each path supports, for the Allow header of a 405 (RFC 9110)."""
    methods: dict[str, set[str]] = {}
    for r in routes:
        methods.setdefault(r.path, set()).add(r.method)
    for found in methods.values():
        if "GET" in found:
            found.add("HEAD")
    return {path: ", ".join(sorted(found)) for path, found in methods.items()}


def add_route(app: FastAPI, r: Route, func: Callable[..., Any], allow: str) -> FileRoute:
    endpoint, options = endpoint_for(func, r.catchall)
    options.setdefault("name", f"{r.method} {r.path}")
    app.router.add_api_route(
        r.path, endpoint, methods=[r.method], route_class_override=FileRoute, **options
    )
    added = app.router.routes[-1]
    assert isinstance(added, FileRoute)
    added.allow = allow
    return added


def register(app: FastAPI, routes: Sequence[Route], modules: ProjectModules) -> None:
    """Import every handler and add it to the app, in the table's precedence order."""
    allow = allowed_methods(routes)
    for r in routes:
        add_route(app, r, handler_of(modules, r), allow[r.path])
