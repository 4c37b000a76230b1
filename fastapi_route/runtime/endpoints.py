"""A user's handler as the endpoint FastAPI registers: made once per route, at registration.

FastAPI then sees an ordinary endpoint and does its own typing, validation, dependency
injection and OpenAPI; nothing here runs per request but one thin call.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi.encoders import jsonable_encoder
from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket

from ..conventions import SEGMENT_TYPES, Rank
from ..table import RouteEntry

# Attribute set by the @route decorator: extra keyword arguments for add_api_route.
ROUTE_OPTIONS = "__fastapi_route_options__"


def route(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Pass FastAPI route options (status_code, response_model, tags, ...) to a handler."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(func, ROUTE_OPTIONS, options)
        return func

    return mark


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


# An unannotated `request` or `websocket` is the connection, not a query parameter.
_CONNECTIONS: dict[str, type[Any]] = {"request": Request, "websocket": WebSocket}


def _convertor(pattern: str) -> Convertor[str]:
    """A segment type Starlette has no convertor for: its pattern, the text as it is."""

    class PatternConvertor(Convertor[str]):
        regex = pattern

        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return value

    return PatternConvertor()


def register_convertors() -> None:
    """Give Starlette a convertor for each segment type of the table that brings a pattern, so
    a template such as `{x:slug}` compiles; again after a project added its own types."""
    for kind in SEGMENT_TYPES.values():
        if kind.pattern is not None and kind.name not in CONVERTOR_TYPES:
            register_url_convertor(kind.name, _convertor(kind.pattern))


register_convertors()


@dataclass(frozen=True)
class PathParams:
    """What the route's URL gives the handler, beyond what FastAPI works out itself."""

    catchall: str | None = None  # given as a list of segments
    catchall_in_url: bool = True  # False at an optional catch-all's own URL: it is []
    # What an unannotated parameter of a typed segment `[id=int]` is.
    types: Mapping[str, type[Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, r: RouteEntry) -> PathParams:
        return cls(r.catchall, r.catchall in r.params, {
            name: kind.python for name, kind in r.template.params if kind.rank is Rank.TYPED
        })

    def given(self, kwargs: dict[str, Any]) -> None:
        """Turn the catch-all's string into its list of segments, in place."""
        if self.catchall is not None:
            kwargs[self.catchall] = (
                _segments(kwargs[self.catchall]) if self.catchall_in_url else []
            )


def _as_seen_by_fastapi(param: inspect.Parameter, url: PathParams) -> inspect.Parameter:
    if param.name == url.catchall:
        return param.replace(annotation=str)  # its {name:path} convertor gives a string
    if param.annotation is inspect.Parameter.empty:
        if param.name in _CONNECTIONS:
            return param.replace(annotation=_CONNECTIONS[param.name])
        if param.name in url.types:  # an unannotated [id=int] is an int
            return param.replace(annotation=url.types[param.name])
    return param


def _seen(func: Callable[..., Any], url: PathParams, returns: Any) -> inspect.Signature:
    signature = _resolved_signature(func)
    return signature.replace(
        parameters=[_as_seen_by_fastapi(p, url) for p in signature.parameters.values()
                    if url.catchall_in_url or p.name != url.catchall],
        return_annotation=returns,
    )


def endpoint_for(
    func: Callable[..., Any], url: PathParams, statuses: Sequence[int] = ()
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The callable FastAPI registers for a handler, and the route options it implies.

    One thin function, made here once, calls the user's function: it turns a catch-all's
    string into a list of segments and a `(body, status[, headers])` or `None` return into a
    response, whatever the handler's annotation says (SPEC 2). Its signature is what FastAPI
    inspects: the handler's own, with an unannotated `request` as the Request, a catch-all
    typed `str` and a tuple return type dropped. A precise return type stays FastAPI's
    response model; `-> None` means 204. `statuses` are what the build read from an
    unannotated handler's returns (the route's `statuses`): see `documented`.
    """
    options: dict[str, Any] = dict(getattr(func, ROUTE_OPTIONS, {}))
    returns = _resolved_signature(func).return_annotation
    if returns is None or returns is type(None):
        options.setdefault("status_code", 204)
        options.setdefault("response_model", None)
        returns = None
    elif _is_tuple(returns):
        returns = inspect.Signature.empty
    elif returns is inspect.Signature.empty and "status_code" not in options:
        documented(statuses, options)
    seen = _seen(func, url, returns)
    given = url.given
    endpoint: Any  # a function that also gets a __signature__
    if inspect.iscoroutinefunction(func):

        async def endpoint(**kwargs: Any) -> Any:
            given(kwargs)
            result = await func(**kwargs)
            return to_response(result) if result is None or type(result) is tuple else result

    else:

        def endpoint(**kwargs: Any) -> Any:
            given(kwargs)
            result = func(**kwargs)
            return to_response(result) if result is None or type(result) is tuple else result

    functools.update_wrapper(endpoint, func)
    endpoint.__signature__ = seen  # what FastAPI inspects, once, at registration
    return endpoint, options


def websocket_endpoint_for(
    func: Callable[..., Any], url: PathParams
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The same for an `async def WEBSOCKET(websocket, ...)`: FastAPI's websocket routing sees
    the handler's signature, with an unannotated `websocket` as the WebSocket."""
    options: dict[str, Any] = dict(getattr(func, ROUTE_OPTIONS, {}))
    given = url.given

    async def endpoint(**kwargs: Any) -> None:
        given(kwargs)
        await func(**kwargs)

    functools.update_wrapper(endpoint, func)
    endpoint.__signature__ = _seen(func, url, None)  # type: ignore[attr-defined]
    return endpoint, options


def documented(statuses: Sequence[int], options: dict[str, Any]) -> None:
    """Document the statuses a handler's returns show (`return None` 204, `return body, 202`
    202; 200 for any other return) in its route options, in place, without changing an answer.

    The route's `status_code` is 200 when a return may be answered with FastAPI's default,
    else the lowest status shown: then every return is a `None` or a tuple, which the
    endpoint turns into a response itself, so `status_code` only documents. The other
    statuses go to `responses`, under what `@route(responses=...)` says of them.
    """
    if not statuses:
        return
    main = 200 if 200 in statuses else min(statuses)
    if main != 200:
        options["status_code"] = main
    others: dict[int | str, Any] = {
        status: {} if status == 204 or status < 200 or status == 304
        else {"content": {"application/json": {"schema": {}}}}
        for status in sorted(statuses) if status != main
    }
    if others:
        options["responses"] = {**others, **(options.get("responses") or {})}


def _segments(value: str) -> list[str]:
    return value.split("/") if value else []


def _is_tuple(annotation: Any) -> bool:
    return annotation is tuple or typing.get_origin(annotation) is tuple
