"""What FastAPI and the app say about the route that answers: the middleware around it, the
dependencies and parameters FastAPI's own analysis found, and, for a route that is not a
file's (FastAPI's pages, docs.py, what app.py's configure added or included), its name,
methods, path and where its endpoint is defined."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi.routing
from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from ..conventions import APP_FILE, CONFIG_FILE, DOCS_FILE, MIDDLEWARE_FILE
from ..runtime import health, offline_docs
from ..runtime.app import Runtime
from ..runtime.register import FileAPIRoute
from ..table import RouteEntry
from .model import Dependency, Handling, Layer, Parameter, RouteRef

# FastAPI >= 0.137 keeps an included router as one entry of the app's routes and walks the
# routes inside it with `iter_route_contexts`; older versions copy the routes at include time
# (each is an entry of its own) and have no such function.
_iter_route_contexts: Callable[[Sequence[BaseRoute]], Iterable[Any]] | None = getattr(
    fastapi.routing, "iter_route_contexts", None)


@dataclass(frozen=True)
class Served:
    """A route that is not a file's, as far as the framework tells."""

    name: str | None
    path: str
    methods: list[str]
    endpoint: Callable[..., Any] | None
    included: bool  # found inside a router the app includes (a node of the app's routes)


def served_by(entry: BaseRoute, scope: Scope) -> Served | None:
    """The route behind one entry of the app's routes that matches `scope`: the entry itself,
    or, for an included router's node, the first route inside that matches (in full, else by
    path only, as FastAPI's router picks it). None: the framework does not say."""
    contexts: list[Any] | None = None
    if _iter_route_contexts is not None:
        try:
            contexts = list(_iter_route_contexts([entry]))
        except Exception:  # a FastAPI whose walk changed: describe what can be read
            contexts = None
    if contexts is not None and not (
        len(contexts) == 1 and getattr(contexts[0], "original_route", entry) is entry
    ):
        inner = _first_match(contexts, scope)
        return None if inner is None else _served(inner, included=True)
    if not isinstance(getattr(entry, "path", None), str):
        return None
    return _served(entry, included=False)


def _first_match(contexts: Sequence[Any], scope: Scope) -> Any:
    partial = None
    for context in contexts:
        try:
            match, _ = context.matches(dict(scope))
        except Exception:
            continue
        if match is Match.FULL:
            return context
        if match is Match.PARTIAL and partial is None:
            partial = context
    return partial


def _served(route: Any, included: bool) -> Served:
    name, path = getattr(route, "name", None), getattr(route, "path", None)
    methods, endpoint = getattr(route, "methods", None), getattr(route, "endpoint", None)
    return Served(name if isinstance(name, str) else None,
                  path if isinstance(path, str) else "",
                  sorted(methods) if isinstance(methods, (set, frozenset, list)) else [],
                  endpoint if callable(endpoint) else None, included)


def app_route(runtime: Runtime, entry: BaseRoute | None,
              scope: Scope) -> tuple[RouteRef, Served | None, str]:
    """A route that is not a file's: its reference, what the framework says of it, and a note
    saying where it comes from."""
    if entry is not None and runtime.is_docs_page(entry):
        methods = sorted(getattr(entry, "methods", None) or ())
        return (RouteRef(" ".join(methods), getattr(entry, "path", "/docs"), DOCS_FILE, None),
                None, f"not a route file: {DOCS_FILE}'s page")
    served = served_by(entry, scope) if entry is not None else None
    if served is None:
        return (RouteRef("", "", None, None),
                None, "not a route file: an entry of the app's router (a router or app that "
                      "app.py's configure added?) that this FastAPI does not describe: which "
                      "of its routes answers is not known here")
    file, line, module = _defined_at(served.endpoint, runtime.project.root)
    ref = RouteRef(" ".join(served.methods), served.path, file, line, served.name)
    # An app create_app made has routes of its own from app.py's configure only; an app you
    # made (with trees `include` added) has its own.
    whose = f"{APP_FILE}'s configure" if runtime.pages is not None else "the app's own code"
    if served.included:
        how = f"in a router {whose} included (app.include_router)"
    elif module.startswith(("fastapi.", "starlette.")):
        return ref, served, "not a route file: a page FastAPI itself adds (docs, OpenAPI)"
    elif module == health.__name__:
        return (RouteRef(" ".join(served.methods), served.path, CONFIG_FILE, None, served.name),
                served, f"not a route file: {CONFIG_FILE}'s health probe (no layout applies)")
    elif module == offline_docs.__name__:
        return (RouteRef(" ".join(served.methods), served.path, CONFIG_FILE, None, served.name),
                served, f"not a route file: {CONFIG_FILE}'s offline docs (docs = {{'offline': "
                        "True}: a page FastAPI would add, or a file it loads; no layout applies)")
    else:
        how = f"that {whose} added (directly or with app.include_router)"
    elsewhere = f", defined in {module}" if file is None and module else ""
    return ref, served, f"not a route file: a route {how}{elsewhere}"


def _defined_at(endpoint: Callable[..., Any] | None,
                root: Path) -> tuple[str | None, int | None, str]:
    """Where an endpoint is defined: the file relative to the project (None outside it), its
    first line, and its module."""
    if endpoint is None:
        return None, None, ""
    function = inspect.unwrap(endpoint)
    module = getattr(function, "__module__", "") or ""
    try:
        source = inspect.getsourcefile(function)
        line: int | None = inspect.getsourcelines(function)[1]
    except (OSError, TypeError):
        return None, None, module
    if source is None:
        return None, None, module
    try:
        file = Path(source).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None, None, module
    return file, line, module


def allow_of(real: BaseRoute | None, served: Served | None) -> list[str]:
    """A 405's Allow header: every method of a file route's path, else the route's methods."""
    if isinstance(real, FileAPIRoute):
        return [m.strip() for m in real.allow.split(",") if m.strip()]
    if served is not None:
        return served.methods
    return sorted(getattr(real, "methods", None) or ())


def _http_only() -> tuple[type, ...]:
    """Middleware classes that hand a websocket's scope straight to the app: they do not run
    for a websocket (`BaseHTTPMiddleware`, so middleware.py's and app.py's function middleware
    and subclasses; CORS; GZip). Any other class sees the websocket's scope."""
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.gzip import GZipMiddleware

    return BaseHTTPMiddleware, CORSMiddleware, GZipMiddleware


def middleware(runtime: Runtime, app: FastAPI, record: RouteEntry) -> list[Layer]:
    """The middleware that runs around a file route, outermost first: the app's, then its
    layouts'. For a websocket route, only the app's middleware that sees a websocket (a
    layout's middleware wraps HTTP routes only)."""
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.middleware.cors import CORSMiddleware

    from ..runtime.layouts import Layouts

    websocket = record.is_websocket
    layers = []
    for each in app.user_middleware:
        cls: Any = each.cls
        if websocket and isinstance(cls, type) and issubclass(cls, _http_only()):
            continue
        kwargs = getattr(each, "kwargs", None) or getattr(each, "options", {})
        dispatch = kwargs.get("dispatch") if cls is BaseHTTPMiddleware else None
        if dispatch is not None:
            name, origin = getattr(dispatch, "__qualname__", repr(dispatch)), _origin(dispatch)
        else:
            name, origin = cls.__name__, "config.py (CORS)" if cls is CORSMiddleware else (
                APP_FILE)
        layers.append(Layer(name, origin))
    if websocket:
        return layers
    for function in runtime.file_routes.base.middleware:  # an included tree's middleware.py
        layers.append(Layer(function.__qualname__, MIDDLEWARE_FILE))
    layouts = Layouts(runtime.modules)
    for file in record.layouts:
        for function in layouts.compose((file,)).middleware:
            layers.append(Layer(function.__qualname__, file))
    return layers


def exception_handlers(runtime: Runtime, app: FastAPI, record: RouteEntry) -> list[Handling]:
    """The handlers that may answer what the route raises, in the order they are looked up:
    its layouts' (innermost first; HTTP routes only), the app's, then the server-error ones
    (`Exception`, 500) in the same order (`runtime.handlers`)."""
    from ..runtime.handlers import SERVER_ERROR_KEYS
    from ..runtime.layouts import Layouts

    layouts = Layouts(runtime.modules)
    levels: list[tuple[str | None, Mapping[Any, Any]]] = [] if record.is_websocket else [
        (file, level.declared or {}) for file in reversed(record.layouts)
        for level in layouts.compose((file,)).exception_handlers]
    levels.append((None, app.exception_handlers))  # the app's: each handler says its origin

    # FastAPI's validation error of the other kind of route never reaches this one.
    never = RequestValidationError if record.is_websocket else WebSocketRequestValidationError

    def said(origin: str | None, declared: Mapping[Any, Any], last: bool) -> list[Handling]:
        return [Handling(getattr(key, "__name__", str(key)), _name(handler),
                         origin or _handler_origin(handler), last)
                for key, handler in declared.items()
                if (key in SERVER_ERROR_KEYS) is last and key is not never]

    return [entry for last in (False, True) for origin, declared in levels
            for entry in said(origin, declared, last)]


def _handler_origin(handler: Any) -> str:
    """Where an app's handler comes from: FastAPI's defaults, app.py, or the host's module."""
    module = getattr(handler, "__module__", "") or ""
    return "FastAPI" if module.split(".")[0] in ("fastapi", "starlette") else _origin(handler)


def _origin(function: Any) -> str:
    module = getattr(function, "__module__", "") or ""
    last = module.rsplit(".", 1)[-1]
    if last == "middleware":
        return "middleware.py"
    if last == "app":
        return APP_FILE
    return module or APP_FILE


def _name(call: Any) -> str:
    return str(getattr(call, "__qualname__", None) or getattr(call, "__name__", None)
               or repr(call))


def _type(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty or annotation is None:
        return "Any"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def dependant(runtime: Runtime, record: RouteEntry,
              real: BaseRoute) -> tuple[list[Dependency], list[Parameter]]:
    """The dependencies in the order FastAPI runs them, and each handler parameter's source,
    read from FastAPI's own analysis of the route."""
    from ..runtime.layouts import Layouts

    analysis = getattr(real, "dependant", None)  # APIRoute's and APIWebSocketRoute's
    if not isinstance(analysis, Dependant):
        return [], []
    layouts = Layouts(runtime.modules)
    by_call: dict[Any, str] = {}
    for file in record.layouts:
        for depends in layouts.compose((file,)).dependencies:
            if isinstance(depends, params.Depends):
                by_call.setdefault(depends.dependency, file)
    dependencies = []
    for sub in analysis.dependencies:
        origin = (f"parameter {sub.name}" if sub.name else
                  by_call.get(sub.call, "@route(dependencies=...)"))
        dependencies.append(Dependency(_name(sub.call), origin))
    return dependencies, list(_parameters(analysis, record, getattr(real, "endpoint", None)))


def _parameters(analysis: Dependant, record: RouteEntry,
                endpoint: Callable[..., Any] | None) -> Iterator[Parameter]:
    sources: dict[str, tuple[str, Any]] = {}
    for source, fields in (("path", analysis.path_params), ("query", analysis.query_params),
                           ("header", analysis.header_params),
                           ("cookie", analysis.cookie_params),
                           ("body", analysis.body_params)):
        for f in fields:
            sources[f.name] = (source, f)
    specials = {
        analysis.request_param_name: "request", analysis.websocket_param_name: "websocket",
        analysis.response_param_name: "response",
        analysis.background_tasks_param_name: "background tasks",
        getattr(analysis, "security_scopes_param_name", None): "security scopes",
    }
    depends_by_name = {sub.name: sub for sub in analysis.dependencies if sub.name}
    signature = inspect.signature(endpoint) if endpoint is not None else None
    for p in signature.parameters.values() if signature is not None else ():
        if p.name in sources:
            source, f = sources[p.name]
            info: Any = getattr(f, "field_info", None)
            annotation = getattr(info, "annotation", p.annotation)
            required = (info.is_required() if hasattr(info, "is_required")
                        else getattr(f, "required", None))
            kind, note = _type(annotation), None
            if source == "path" and p.name == record.catchall:
                kind, note = "list[str]", "the rest of the URL, split at '/'"
            yield Parameter(p.name, source, kind,
                            bool(required) if required is not None else None, note)
        elif p.name in depends_by_name:
            yield Parameter(p.name, "dependency", _type(p.annotation), None,
                            _name(depends_by_name[p.name].call))
        elif p.name in specials:
            yield Parameter(p.name, specials[p.name], _type(p.annotation))
        else:
            yield Parameter(p.name, "other", _type(p.annotation))
