"""`fastapi-route explain METHOD URL`: which route answers a request, and why.

The answer is the app's own: the project's app is built lazily (nothing imported until a
route is made real) and Starlette's routing step is replayed on it, route by route in the
router's order, with each route's own `matches()`: the first full match answers, else the
first partial one (the path is served, not the method: a 405 naming every method of the path),
else the trailing-slash twin (a redirect), else the router's default (a `public/` file for GET
and HEAD, else the 404). Only the routes whose path matches are made real (their files
imported, as a request would); no handler, dependency or middleware runs.

The "why" comes from the folder grammar (`conventions`): which template piece took each URL
segment, and for every other route that also matches, the first segment where precedence
(static > typed > [param] > catch-all) put the winner first. Everything is a plain dataclass;
`render` writes it for a reader and `to_json` for tools.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from fastapi import FastAPI, params
from starlette.datastructures import URL
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from .config import Config, load_config
from .conventions import (
    DOCS_FILE,
    NOT_FOUND_FILE,
    SEGMENT_TYPES,
    WEBSOCKET,
    Rank,
    Template,
    printable,
)
from .errors import FastAPIRouteError
from .project import Project
from .runtime.app import runtime_of
from .runtime.routepath import get_route_path
from .table import Route

Outcome = Literal["route", "app_route", "method_not_allowed", "redirect", "static",
                  "not_found", "websocket_refused"]
Source = Literal["cache", "scan"]

_METHOD = re.compile(r"[A-Z]+")
_LOCATION_SAFE = ":/%#?=@[]!$&'()*+,;"  # what Starlette's RedirectResponse leaves unquoted
_KINDS = {Rank.STATIC: "static", Rank.TYPED: "typed", Rank.PARAM: "param",
          Rank.CATCHALL: "catch-all"}


@dataclass
class SegmentMatch:
    """One URL segment (or, for a catch-all, the rest of the URL) and the piece that took it."""

    text: str  # the decoded URL segment, or the rest of the path for a catch-all
    piece: str  # the template piece: users, {user_id}, {id:int}, {slug:path}
    kind: str  # static, typed, param, catch-all
    param: str | None = None
    value: Any = None  # what the handler gets (a catch-all: list of segments)
    convertor: str | None = None  # str, int, float, uuid, path


@dataclass
class RouteRef:
    method: str  # GET ... or WEBSOCKET; for an app route, its methods joined
    path: str  # the template
    file: str | None  # relative to the project root; None for FastAPI's own pages
    line: int | None
    name: str | None = None  # an app route's name (openapi, swagger_ui_html, ...)


@dataclass
class Loser:
    """A route that also matches the request but comes after the winner."""

    route: RouteRef
    segment: int | None  # 1-based URL segment where precedence decided; None: a tie
    reason: str


@dataclass
class Layer:
    """A middleware, from the outside in."""

    name: str
    origin: str  # config.py (CORS), app.py, middleware.py, a _layout.py


@dataclass
class Dependency:
    name: str  # the dependency function's qualified name
    origin: str  # a _layout.py, @route(dependencies=...), or "parameter NAME"


@dataclass
class Parameter:
    name: str
    source: str  # path, query, header, cookie, body, dependency, request, websocket, ...
    type: str
    required: bool | None = None
    note: str | None = None


@dataclass
class Explanation:
    method: str
    url: str
    path: str  # the decoded path the router matches
    outcome: Outcome
    status: int | None  # None: the handler decides
    route: RouteRef | None = None
    segments: list[SegmentMatch] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # (group) folders: no URL segment
    losers: list[Loser] = field(default_factory=list)
    layouts: list[str] = field(default_factory=list)  # the _layout.py files, outermost first
    middleware: list[Layer] = field(default_factory=list)  # outermost first
    dependencies: list[Dependency] = field(default_factory=list)  # in the order they run
    parameters: list[Parameter] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)  # a 405's Allow header
    static_file: str | None = None
    location: str | None = None  # a redirect's target
    not_found: str | None = None  # who answers the 404
    error: str | None = None  # the route cannot be served: the app answers 500
    notes: list[str] = field(default_factory=list)

    @property
    def answered_by(self) -> str | None:
        """The file that answers: the route's, or the public/ file."""
        if self.route is not None:
            return self.route.file
        return self.static_file


# --- the request -------------------------------------------------------------------------


def request_scope(method: str, url: str) -> Scope:
    """The ASGI scope a server would hand the app for `METHOD URL` (a path, with an optional
    query, or a whole http(s) URL)."""
    method = method.upper()
    if method in ("WS", WEBSOCKET):
        kind = "websocket"
    elif _METHOD.fullmatch(method):
        kind = "http"
    else:
        raise FastAPIRouteError(
            f"{printable(method)!r} is not an HTTP method",
            "e.g. fastapi-route explain GET /users/7 (WS for a websocket)",
        )
    if url.startswith("/"):  # a path: "//x" is a path here, not a host
        raw, _, query = url.partition("#")[0].partition("?")
    elif url.startswith(("http://", "https://", "ws://", "wss://")):
        parts = urlsplit(url)
        raw, query = parts.path or "/", parts.query
    else:
        raise FastAPIRouteError(
            f"{printable(url)!r} is not a URL path",
            "give the path from the root, e.g. /users/7 or /search?q=x",
        )
    scope: dict[str, Any] = {
        "type": kind, "asgi": {"version": "3.0"}, "http_version": "1.1",
        "scheme": "ws" if kind == "websocket" else "http",
        "path": unquote(raw), "raw_path": raw.encode("utf-8", "surrogateescape"),
        "query_string": query.encode("utf-8", "surrogateescape"), "root_path": "",
        "headers": [(b"host", b"testserver")], "server": ("testserver", 80),
        "client": ("127.0.0.1", 0),
    }
    if kind == "http":
        scope["method"] = method
    return scope


# --- the routing step, replayed --------------------------------------------------------------


def explain(
    project: Project | str | Path, method: str, url: str, *, source: Source = "cache",
    config: Config | None = None, app: FastAPI | None = None,
) -> Explanation:
    """What the project's app does with `METHOD URL`. `app`: explain on an app already built
    with `create_app(..., schedule="lazy")` (tests); else one is built from the cache, or from
    a fresh scan with `source="scan"`."""
    from .runtime.app import create_app, resolve_project

    found = resolve_project(project)
    config = config or load_config(found.root)
    scope = request_scope(method, url)
    if app is None:
        app = create_app(found, source=source, config=config, schedule="lazy", dispatch=False)
    return _explain(app, found, config, scope, url)


def _explain(app: FastAPI, project: Project, config: Config, scope: Scope,
             url: str) -> Explanation:
    method = scope.get("method", WEBSOCKET)
    path = get_route_path(scope)
    result = Explanation(method, url, path, "not_found", 404)
    routes = list(app.router.routes)
    full: list[tuple[BaseRoute, Scope]] = []
    partial: tuple[BaseRoute, Scope] | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            full.append((route, child))
        elif match is Match.PARTIAL and partial is None:
            partial = (route, child)
    lazies = _lazy_routes(app)
    if full:
        winner, child = full[0]
        _answer(result, app, project, winner, child, lazies)
        result.losers = [_loser(result, r, lazies) for r, _ in full[1:]]
        return result
    if partial is not None:
        winner, child = partial
        result.outcome, result.status = "method_not_allowed", 405
        result.route = _ref(winner, lazies)
        allow = getattr(_real(winner, lazies), "allow", None)
        if isinstance(allow, str):
            result.allow = [m.strip() for m in allow.split(",") if m.strip()]
        else:
            result.allow = sorted(getattr(_real(winner, lazies), "methods", None) or ())
        return result
    if scope["type"] == "http" and app.router.redirect_slashes and path != "/":
        twin = dict(scope)
        twin["path"] = scope["path"].rstrip("/") if path.endswith("/") else scope["path"] + "/"
        for route in routes:
            match, _ = route.matches(twin)
            if match is not Match.NONE:
                result.outcome, result.status = "redirect", 307
                target = URL(scope=twin)
                location = target.path + (f"?{target.query}" if target.query else "")
                result.location = quote(location, safe=_LOCATION_SAFE)  # as RedirectResponse
                result.route = _ref(route, lazies)
                return result
    if scope["type"] == "websocket":
        result.outcome, result.status = "websocket_refused", 403
        return result
    public = project.root / config.static_dir
    if method in ("GET", "HEAD") and public.is_dir():
        from .runtime.extras import StaticFiles

        served = StaticFiles(public).find(path)
        if served is not None:
            result.outcome, result.status = "static", 200
            result.static_file = _relative(served, project.root)
            return result
    if (project.root / NOT_FOUND_FILE).is_file():
        result.not_found = f"{NOT_FOUND_FILE} (handler)"
    elif 404 in app.exception_handlers:
        result.not_found = "app.py's exception_handlers[404]"
    else:
        result.not_found = "FastAPI's JSON 404"
    return result


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _lazy_routes(app: FastAPI) -> dict[int, Any]:
    """id of each LazyRoute and of the real route that replaced it -> the LazyRoute."""
    found: dict[int, Any] = {}
    for lazy in runtime_of(app).file_routes.lazy:
        found[id(lazy)] = lazy
        if lazy.real is not None:
            found[id(lazy.real)] = lazy
    return found


def _record(route: BaseRoute, lazies: dict[int, Any]) -> Route | None:
    lazy = lazies.get(id(route))
    return lazy.record if lazy is not None else None


def _real(route: BaseRoute, lazies: dict[int, Any]) -> BaseRoute | None:
    lazy = lazies.get(id(route))
    if lazy is None:
        return route
    real: BaseRoute | None = lazy.materialize()
    return real


def _ref(route: BaseRoute, lazies: dict[int, Any]) -> RouteRef:
    record = _record(route, lazies)
    if record is not None:
        return RouteRef(record.method, record.path, record.file, record.line)
    methods = getattr(route, "methods", None)
    endpoint = getattr(route, "endpoint", None)
    name = getattr(route, "name", None)
    file = DOCS_FILE if getattr(endpoint, "__name__", "") == "custom_docs" else None
    return RouteRef(" ".join(sorted(methods)) if methods else "", getattr(route, "path", ""),
                    file, None, name)


# --- why this route ----------------------------------------------------------------------


def _answer(result: Explanation, app: FastAPI, project: Project, winner: BaseRoute,
            child: Scope, lazies: dict[int, Any]) -> None:
    record = _record(winner, lazies)
    result.route = _ref(winner, lazies)
    result.status = None
    if record is None:
        result.outcome = "app_route"
        result.notes.append("not a route file: a page or route the app itself adds "
                            "(FastAPI's docs, docs.py, or app.py's configure)")
        return
    result.outcome = "route"
    result.groups = [f[1:-1] for f in record.file.split("/")[:-1]
                     if f.startswith("(") and f.endswith(")")]
    result.segments = segments_of(record, result.path, child.get("path_params", {}))
    if record.catchall is not None and record.catchall not in record.params:
        result.notes.append(f"{record.catchall} is [] here: the optional catch-all "
                            f"[[...{record.catchall}]] also serves its own folder's URL")
    result.layouts = list(record.layouts)
    result.middleware = _middleware(app, record)
    lazy = lazies[id(winner)]
    real = lazy.materialize()
    if real is None:
        error = lazy.error
        result.error = f"{type(error).__name__}: {error}"
        result.status = 500
        return
    result.dependencies, result.parameters = _dependant(app, record, real)


def segments_of(record: Route, path: str, path_params: dict[str, Any]) -> list[SegmentMatch]:
    """Which template piece took each URL segment, with the value the handler gets."""
    texts = [] if path == "/" else path.split("/")[1:]  # the request's URL segments
    found: list[SegmentMatch] = []
    for i, piece in enumerate(record.template.pieces):
        text = texts[i] if i < len(texts) else ""
        if piece.type is None:  # static text: each parameter of a record's template is typed
            found.append(SegmentMatch(text, piece.text, "static"))
            continue
        if piece.rank is Rank.CATCHALL:
            rest = "/".join(texts[i:])
            found.append(SegmentMatch(rest, piece.text, "catch-all", piece.param,
                                      rest.split("/") if rest else [], piece.type.name))
            break
        value = path_params.get(piece.param, text)
        if not isinstance(value, (str, int, float)):
            value = str(value)  # a UUID
        found.append(SegmentMatch(text, piece.text, _KINDS[piece.rank], piece.param, value,
                                  piece.type.name))
    return found


def _loser(result: Explanation, route: BaseRoute, lazies: dict[int, Any]) -> Loser:
    ref = _ref(route, lazies)
    winner = result.route
    assert winner is not None
    if _record(route, lazies) is None or winner.file is None:
        return Loser(ref, None, "comes after it in the app's routes")
    segment, reason = why_first(winner.path, ref.path, result.path)
    return Loser(ref, segment, reason)


def why_first(winner: str, loser: str, path: str) -> tuple[int | None, str]:
    """The first URL segment where precedence puts `winner` before `loser`, and why."""
    pieces_w, pieces_l = Template.parse(winner).pieces, Template.parse(loser).pieces
    texts = [] if path == "/" else path.split("/")[1:]  # the request's URL segments
    for i, (a, b) in enumerate(zip(pieces_w, pieces_l, strict=False)):
        if a.key == b.key:
            continue
        text = texts[i] if i < len(texts) else ""
        at = f"at segment {i + 1} ({text!r})"
        if a.rank is b.rank is Rank.TYPED and a.type and b.type:
            typed = [t.name for t in SEGMENT_TYPES.values() if t.rank is Rank.TYPED]
            return i + 1, (f"{at}: typed segments are tried in the order "
                           f"{', '.join(typed)}: {a.type.name} before {b.type.name}")
        return i + 1, (f"{at}: {_KINDS[a.rank]} {a.text} beats {_KINDS[b.rank]} {b.text}")
    if len(pieces_w) < len(pieces_l):
        end = len(pieces_w)
        return end + 1, (f"at segment {end + 1}: the URL ends where {winner} ends; "
                         f"the catch-all {pieces_l[end].text} would take an empty rest")
    return None, "same precedence: the first in the table's order answers"


def _middleware(app: FastAPI, record: Route) -> list[Layer]:
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.middleware.cors import CORSMiddleware

    from .runtime.layouts import Layouts

    layers = []
    for middleware in app.user_middleware:
        cls: Any = middleware.cls
        kwargs = getattr(middleware, "kwargs", None) or getattr(middleware, "options", {})
        dispatch = kwargs.get("dispatch") if cls is BaseHTTPMiddleware else None
        if dispatch is not None:
            name, origin = getattr(dispatch, "__qualname__", repr(dispatch)), _origin(dispatch)
        else:
            name, origin = cls.__name__, "config.py (CORS)" if cls is CORSMiddleware else (
                "app.py")
        layers.append(Layer(name, origin))
    layouts = Layouts(runtime_of(app).modules)
    for file in record.layouts:
        for function in layouts.compose((file,)).middleware:
            layers.append(Layer(function.__qualname__, file))
    return layers


def _origin(function: Any) -> str:
    module = getattr(function, "__module__", "") or ""
    last = module.rsplit(".", 1)[-1]
    if last == "middleware":
        return "middleware.py"
    if last == "app":
        return "app.py"
    return module or "app.py"


def _name(call: Any) -> str:
    return str(getattr(call, "__qualname__", None) or getattr(call, "__name__", None)
               or repr(call))


def _type(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty or annotation is None:
        return "Any"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def _dependant(app: FastAPI, record: Route,
               real: BaseRoute) -> tuple[list[Dependency], list[Parameter]]:
    """The dependencies in the order FastAPI runs them, and each handler parameter's source,
    read from FastAPI's own analysis of the route."""
    from .runtime.layouts import Layouts

    dependant = getattr(real, "dependant", None)
    if dependant is None:
        return [], []
    layouts = Layouts(runtime_of(app).modules)
    by_call: dict[Any, str] = {}
    for file in record.layouts:
        for depends in layouts.compose((file,)).dependencies:
            if isinstance(depends, params.Depends):
                by_call.setdefault(depends.dependency, file)
    dependencies = []
    for sub in dependant.dependencies:
        origin = (f"parameter {sub.name}" if sub.name else
                  by_call.get(sub.call, "@route(dependencies=...)"))
        dependencies.append(Dependency(_name(sub.call), origin))
    sources: dict[str, tuple[str, Any]] = {}
    for source, fields in (("path", dependant.path_params), ("query", dependant.query_params),
                           ("header", dependant.header_params),
                           ("cookie", dependant.cookie_params),
                           ("body", dependant.body_params)):
        for f in fields:
            sources[f.name] = (source, f)
    specials = {
        dependant.request_param_name: "request", dependant.websocket_param_name: "websocket",
        dependant.response_param_name: "response",
        dependant.background_tasks_param_name: "background tasks",
        getattr(dependant, "security_scopes_param_name", None): "security scopes",
    }
    depends_by_name = {sub.name: sub for sub in dependant.dependencies if sub.name}
    parameters = []
    endpoint = getattr(real, "endpoint", None)
    signature = inspect.signature(endpoint) if endpoint is not None else None
    for p in signature.parameters.values() if signature is not None else ():
        note = None
        if p.name in sources:
            source, f = sources[p.name]
            info: Any = getattr(f, "field_info", None)
            annotation = getattr(info, "annotation", p.annotation)
            required = (info.is_required() if hasattr(info, "is_required")
                        else getattr(f, "required", None))
            kind = _type(annotation)
            if source == "path" and p.name == record.catchall:
                kind, note = "list[str]", "the rest of the URL, split at '/'"
            parameters.append(Parameter(p.name, source, kind,
                                        bool(required) if required is not None else None, note))
        elif p.name in depends_by_name:
            parameters.append(Parameter(p.name, "dependency", _type(p.annotation), None,
                                        _name(depends_by_name[p.name].call)))
        elif p.name in specials:
            parameters.append(Parameter(p.name, specials[p.name], _type(p.annotation)))
        else:
            parameters.append(Parameter(p.name, "other", _type(p.annotation)))
    return dependencies, parameters


# --- output ------------------------------------------------------------------------------


def to_json(explanation: Explanation) -> str:
    """The explanation for tools: one JSON object, keys in a fixed order."""
    data = asdict(explanation)
    data["answered_by"] = explanation.answered_by
    return json.dumps(data, indent=2, default=str)


def _where(ref: RouteRef) -> str:
    if ref.file is None:
        return f"the app's own route {ref.name or ref.path}"
    return f"{ref.file}:{ref.line}" if ref.line is not None else ref.file


def render(e: Explanation) -> str:
    """The explanation for a reader."""
    out = [f"{e.method} {e.url}"]
    ref = e.route
    if e.outcome in ("route", "app_route") and ref is not None:
        out.append(f"  answered by {_where(ref)}  ({ref.method} {ref.path})")
        if e.error:
            out.append(f"  but it cannot be served ({e.error}): the app answers 500")
    elif e.outcome == "method_not_allowed" and ref is not None:
        out.append(f"  405 Method Not Allowed: {ref.path} is served "
                   f"({_where(ref)}), not for {e.method}")
        out.append(f"  Allow: {', '.join(e.allow)}")
    elif e.outcome == "redirect":
        out.append(f"  307 redirect to {e.location} (no route matches; "
                   f"its trailing-slash twin does)")
    elif e.outcome == "static":
        out.append(f"  no route matches: the static file {e.static_file} answers (200)")
    elif e.outcome == "websocket_refused":
        out.append("  no websocket route matches: refused at the handshake (403)")
    else:
        out.append(f"  404 Not Found: no route matches and no public/ file; "
                   f"{e.not_found} answers")
    if e.segments or (e.outcome == "route" and e.path == "/"):
        out += ["", "Why, segment by segment:"]
        if not e.segments:
            out.append("  /  the root URL")
        width = max((len(s.text) for s in e.segments), default=0) + 1
        for s in e.segments:
            shown = "/" + s.text
            if s.kind == "static":
                why = f"static {s.piece!r}"
            elif s.kind == "catch-all":
                why = f"catch-all {s.piece}: {s.param} = {s.value!r} (the rest of the URL)"
            else:
                why = f"{s.kind} {s.piece}: {s.param} = {s.value!r} ({s.convertor})"
            out.append(f"  {shown:<{width + 1}}  {why}")
    if e.groups:
        out.append("  groups " + ", ".join(f"({g})" for g in e.groups)
                   + " add no URL segment")
    for note in e.notes:
        out.append(f"  note: {note}")
    if e.losers:
        out += ["", "Also matching, and losing to it:"]
        for loser in e.losers:
            out.append(f"  {loser.route.method} {loser.route.path}  {_where(loser.route)}")
            out.append(f"      {loser.reason}")
    if e.outcome == "route":
        out += ["", "Layouts, outermost first:"]
        out += [f"  {layout}" for layout in e.layouts] or ["  none"]
        out += ["", "Middleware, outermost first:"]
        out += [f"  {layer.name}  ({layer.origin})" for layer in e.middleware] or ["  none"]
        out += ["", "Dependencies, in the order they run:"]
        out += [f"  {d.name}  ({d.origin})" for d in e.dependencies] or ["  none"]
        if e.error is None:
            out += ["", "Handler parameters:"]
            for p in e.parameters:
                extra = "" if p.required is None else (
                    ", required" if p.required else ", optional")
                note = f"; {p.note}" if p.note else ""
                out.append(f"  {p.name}: {p.type}  from {p.source}{extra}{note}")
            if not e.parameters:
                out.append("  none")
    return "\n".join(out)
