"""A user's handler as the endpoint FastAPI registers: made once per route, at registration.

FastAPI then sees an ordinary endpoint and does its own typing, validation, dependency
injection and OpenAPI; nothing here runs per request but one thin call.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import Path
from fastapi.encoders import jsonable_encoder
from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path
from starlette.websockets import WebSocket

from ..conventions import (
    BUILTIN_TYPES,
    SEGMENT_TYPES,
    Rank,
    SegmentType,
    compiled_template,
    convertor_name,
    pattern_of,
)
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


def _resolved_signature(func: Callable[..., Any],
                        signature: inspect.Signature | None = None) -> inspect.Signature:
    """The signature (`signature`, the function's own, if given) with string annotations
    (PEP 563) evaluated in the handler's module; the very one given when it has none."""
    signature = signature or inspect.signature(func)
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


class TableConvertor(Convertor[Any]):
    """A built-in segment type the table narrows, as Starlette's router compiles it: the regex
    of what the type accepts (`pattern_of`, read again at each compile: an int's bound is the
    interpreter's limit then) and the conversion of Starlette's convertor of the type's name,
    which is never handed a value outside it. (A project's own type compiles as one segment of
    text and is asked by its route: `runtime/segment_types.py`.)"""

    def __init__(self, kind: SegmentType) -> None:
        self.kind = kind
        self.base: Convertor[Any] | None = (
            CONVERTOR_TYPES[kind.name] if kind.name in BUILTIN_TYPES else None
        )

    @property  # Starlette reads it as an attribute, each time it compiles a template
    def regex(self) -> str:  # type: ignore[override]
        pattern = pattern_of(self.kind)
        assert pattern is not None, self.kind
        return pattern

    def convert(self, value: str) -> Any:
        return value if self.base is None else self.base.convert(value)

    def to_string(self, value: Any) -> str:
        return str(value) if self.base is None else self.base.to_string(value)


def register_convertors() -> None:
    """Give Starlette a convertor of ours for each built-in segment type the table narrows
    (`convertor_name`: `fastapi_route_int`). Starlette's own convertors are left as they are:
    a host app shares them."""
    for kind in SEGMENT_TYPES.values():
        name = convertor_name(kind)
        if kind.pattern is not None and name not in CONVERTOR_TYPES:
            register_url_convertor(name, TableConvertor(kind))


def compile_served(path: str) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]]]:
    """Starlette's `compile_path` of a route template as our routes match it: with the table's
    convertors (`compiled_template`), so that a value its segment type does not accept (an int
    of more digits than Python reads, a float too large to be finite) does not match, where
    Starlette's convertor raised inside routing (a 500) or gave `inf`. The format (`/items/{id}`,
    what `url_for` and OpenAPI use) is the same as Starlette's."""
    return compile_path(compiled_template(path))


register_convertors()


@dataclass(frozen=True, slots=True)
class PathParams:
    """What the route's URL gives the handler, beyond what FastAPI works out itself."""

    catchall: str | None = None  # given as a list of segments
    catchall_in_url: bool = True  # False at an optional catch-all's own URL: it is []
    # What an unannotated parameter of a typed segment `[id=int]` is.
    types: Mapping[str, type[Any]] = field(default_factory=dict)
    # A project type's parameter (SPEC 14.1): its (pattern, description) for OpenAPI.
    documented: Mapping[str, tuple[str | None, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, r: RouteEntry,
           documented: Mapping[str, tuple[str | None, str]] | None = None) -> PathParams:
        types = {name: kind.python for name, kind in r.template.params
                 if kind.rank is Rank.TYPED}
        if r.catchall is None and not types:
            return _PLAIN  # most routes: one for all of them (memory, issue 19 item 7)
        return cls(r.catchall, r.catchall in r.params, types, documented or {})

    def given(self, kwargs: dict[str, Any]) -> None:
        """Turn the catch-all's string into its list of segments, in place."""
        if self.catchall is not None:
            kwargs[self.catchall] = (
                _segments(kwargs[self.catchall]) if self.catchall_in_url else []
            )


_PLAIN = PathParams(types=MappingProxyType({}))


def _as_seen_by_fastapi(param: inspect.Parameter, url: PathParams) -> inspect.Parameter:
    if param.name == url.catchall:
        return param.replace(annotation=str)  # its {name:path} convertor gives a string
    if param.annotation is inspect.Parameter.empty:
        if param.name in _CONNECTIONS:
            return param.replace(annotation=_CONNECTIONS[param.name])
        if param.name in url.types and param.name not in url.documented:
            return param.replace(annotation=url.types[param.name])  # an unannotated [id=int]
    if param.name in url.documented:
        return _documented(param, *url.documented[param.name])
    return param


def _documented(param: inspect.Parameter, pattern: str | None,
                description: str) -> inspect.Parameter:
    """A project type's parameter as OpenAPI should show it: the type's `description`, and its
    `pattern` in the schema. Documented only (`json_schema_extra`): the route matched only a
    value the type accepts, and pydantic's regex engine is not Python's. An annotation that
    already says more (`Annotated[str, Path(...)]`) is the user's to keep."""
    annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        annotation = str
    if typing.get_origin(annotation) is Annotated or (pattern is None and not description):
        return param.replace(annotation=annotation)
    info = Path(description=description or None,
                json_schema_extra={"pattern": pattern} if pattern is not None else None)
    return param.replace(annotation=Annotated[annotation, info])


def _seen(signature: inspect.Signature, url: PathParams, returns: Any) -> inspect.Signature:
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
    own = inspect.signature(func)
    signature = _resolved_signature(func, own)
    returns = signature.return_annotation
    if returns is None or returns is type(None):
        options.setdefault("status_code", 204)
        options.setdefault("response_model", None)
        returns = None
    elif _is_tuple(returns):
        returns = inspect.Signature.empty
    elif returns is inspect.Signature.empty and "status_code" not in options:
        documented(statuses, options)
    seen = _seen(signature, url, returns)
    # Only a catch-all's string is turned into segments: no call (nor bound method) for others.
    given = url.given if url.catchall is not None else None
    endpoint: Any  # a function that may also get a __signature__
    if inspect.iscoroutinefunction(func):

        async def endpoint(**kwargs: Any) -> Any:
            if given is not None:
                given(kwargs)
            result = await func(**kwargs)
            return to_response(result) if result is None or type(result) is tuple else result

    else:

        def endpoint(**kwargs: Any) -> Any:
            if given is not None:
                given(kwargs)
            result = func(**kwargs)
            return to_response(result) if result is None or type(result) is tuple else result

    # `__wrapped__` (set here) is load-bearing for a generator handler: FastAPI (0.135+) tells
    # a streaming endpoint by `inspect.unwrap`, so it sees the user's generator function, and
    # streams what this adapter returns, the generator itself (neither None nor a tuple).
    functools.update_wrapper(endpoint, func)
    # What FastAPI inspects, once, at registration. When it is the handler's own signature
    # (most handlers), `inspect.signature` finds that one through `__wrapped__`, as FastAPI
    # always does, and none is kept per route (memory, issue 19 item 7).
    if not _same(seen, own):
        endpoint.__signature__ = seen
    return endpoint, options


def _same(seen: inspect.Signature, own: inspect.Signature) -> bool:
    """Whether `seen` is `own` part for part (the very parameters and return annotation:
    `==` would compare defaults, which may not compare)."""
    return seen.return_annotation is own.return_annotation and len(seen.parameters) == len(
        own.parameters) and all(a is b for a, b in zip(seen.parameters.values(),
                                                        own.parameters.values(), strict=True))


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
    endpoint.__signature__ = _seen(  # type: ignore[attr-defined]
        _resolved_signature(func), url, None)
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
