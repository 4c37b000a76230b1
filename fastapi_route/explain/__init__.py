"""`fastapi-route explain METHOD URL`: which route answers a request, and why.

The answer is the app's own: the project's app is built lazily (nothing imported until a
route is made real) and its router's decision is replayed (`runtime.replay`: the router's own
routing loop over the candidates dispatch would give it, with probes in place of the routes
and of the default). Only the routes whose path matches are made real (their files imported,
as a request would); no handler, dependency or middleware runs. This package only reads that
decision and renders it:

- `model`: the dataclasses an explanation is made of;
- `why`: the "why" from the folder grammar (`conventions`): which template piece took each URL
  segment, and for every other route that also matches, the first segment where precedence
  (static > typed > [param] > catch-all) put the winner first;
- `introspect`: what FastAPI and the app say of the route: middleware, dependencies,
  parameters, and for a route that is not a file's, its name, methods and where it is defined;
- `render`: `render` for a reader, `to_json` for tools.
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.types import Scope

from ..config import Config, load_config
from ..conventions import NOT_FOUND_FILE, WEBSOCKET
from ..errors import FastAPIRouteError, printable
from ..project import Project
from ..routeview import groups_of
from ..runtime.app import Runtime, trees_of
from ..runtime.endpoints import compile_served
from ..runtime.modules import HandlerImportError
from ..runtime.ondemand import LazyRoute
from ..runtime.refusal import HandlerRefused
from ..runtime.replay import Decision, replay
from ..runtime.routepath import get_route_path
from ..runtime.segment_types import own_types_of
from . import introspect
from .model import (
    Dependency,
    Explanation,
    Layer,
    Loser,
    Outcome,
    Parameter,
    RouteRef,
    SegmentMatch,
    Source,
)
from .render import render, to_json
from .why import segments_of, types_said, why_first

__all__ = [
    "Dependency", "Explanation", "Layer", "Loser", "Outcome", "Parameter", "RouteRef",
    "SegmentMatch", "Source", "explain", "explain_app", "render", "request_scope", "segments_of",
    "to_json", "why_first",
]

_METHOD = re.compile(r"[A-Z]+")


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
    raw_path = raw.encode("utf-8", "surrogateescape")  # argv's bytes that are not UTF-8 too
    scope: dict[str, Any] = {
        "type": kind, "asgi": {"version": "3.0"}, "http_version": "1.1",
        "scheme": "ws" if kind == "websocket" else "http",
        # Decoded as a server decodes a path: bytes that are not UTF-8 become U+FFFD.
        "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"), "raw_path": raw_path,
        "query_string": query.encode("utf-8", "surrogateescape"), "root_path": "",
        "headers": [(b"host", b"testserver")], "server": ("testserver", 80),
        "client": ("127.0.0.1", 0),
    }
    if kind == "http":
        scope["method"] = method
    return scope


def explain(
    project: Project | str | Path, method: str, url: str, *, source: Source = "cache",
    config: Config | None = None, app: FastAPI | None = None,
) -> Explanation:
    """What the project's app does with `METHOD URL`. `app`: explain on an app already built
    with `create_app(..., schedule="lazy")` (tests); else one is built from the cache, or from
    a fresh scan with `source="scan"`, with the dispatcher `run` serves it with."""
    from ..runtime.app import create_app, resolve_project

    found = resolve_project(project)
    config = config or load_config(found.root)
    scope = request_scope(method, url)
    with _said_here():
        if app is None:
            app = create_app(found, source=source, config=config, schedule="lazy")
        return _explain(app, scope, url)


def explain_app(app: FastAPI, method: str, url: str) -> Explanation:
    """What an app does with `METHOD URL`: an app `create_app` made, or one you made with
    trees added by `include` (their routes by file and line, the app's own by definition)."""
    scope = request_scope(method, url)
    with _said_here():
        return _explain(app, scope, url)


class _Trees:
    """The route trees of one app, and which of them a router entry belongs to."""

    def __init__(self, app: FastAPI) -> None:
        self.all = trees_of(app)
        if not self.all:
            raise LookupError(f"{app!r} has no route tree of fastapi_route's")
        self.main = self.all[0]  # create_app's, else the first included: for the app's routes

    def owner(self, route: object) -> tuple[Runtime, LazyRoute] | None:
        for tree in self.all:
            lazy = tree.record_of(route)
            if lazy is not None:
                return tree, lazy
        return None


class _Unlogged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


@contextlib.contextmanager
def _said_here() -> Iterator[None]:
    """The runtime logs a route it cannot make real (with its tracebacks, for a server's log);
    explain says why itself, once (`_cannot_load`, `Explanation.error`)."""
    logger = logging.getLogger("fastapi_route")
    unlogged = _Unlogged()
    logger.addFilter(unlogged)
    try:
        yield
    finally:
        logger.removeFilter(unlogged)


def _explain(app: FastAPI, scope: Scope, url: str) -> Explanation:
    trees = _Trees(app)
    path = get_route_path(scope)
    result = Explanation(scope.get("method", WEBSOCKET), url, path, "not_found", 404)
    decision = replay(app, scope)
    if decision.note:
        result.notes.append(decision.note)
    result.notes.extend(_own_types_said(trees, decision, path))
    if decision.kind == "full":
        _answer(result, trees, app, decision, scope)
    elif decision.kind == "partial":
        _not_allowed(result, trees, decision, scope)
    elif decision.kind == "redirect":
        result.outcome, result.status = "redirect", decision.status
        target = urlsplit(decision.location or "")
        result.location = target.path + (f"?{target.query}" if target.query else "")
        if decision.route is not None:
            result.route = _ref(trees, decision.route, scope)
    elif decision.kind == "default":
        _default(result, trees.main, app, decision)
    else:
        result.outcome, result.status = "unknown", decision.status
    return result


def _ref(trees: _Trees, entry: BaseRoute, scope: Scope) -> RouteRef:
    owner = trees.owner(entry)
    if owner is not None:
        r = owner[1].record
        return RouteRef(r.method, r.path, r.file, r.line)
    return introspect.app_route(trees.main, entry, scope)[0]


def _answer(result: Explanation, trees: _Trees, app: FastAPI, decision: Decision,
            scope: Scope) -> None:
    result.status = None
    owner = trees.owner(decision.route)
    if owner is None:
        result.outcome = "app_route"
        result.route, served, note = introspect.app_route(trees.main, decision.route, scope)
        if decision.low_priority and served is None:
            note = ("not a route file: one of FastAPI's low-priority routes (app.frontend's "
                    "files), tried after every route and the trailing-slash redirect")
        result.notes.append(note)
        result.losers = [Loser(_ref(trees, r, scope), None,
                               "comes after it in the app's routes") for r in decision.losers]
        return
    runtime, lazy = owner
    record = lazy.record
    result.outcome = "route"
    result.route = RouteRef(record.method, record.path, record.file, record.line)
    result.groups = list(groups_of(record.file, runtime.config.route_dir))
    result.segments = segments_of(record, result.path, decision.scope.get("path_params", {}))
    if record.catchall is not None and record.catchall not in record.params:
        result.notes.append(f"{record.catchall} is [] here: the optional catch-all "
                            f"[[...{record.catchall}]] also serves its own folder's URL")
    result.losers = [_loser(result.route, trees, r, result.path, scope)
                     for r in decision.losers]
    real = lazy.materialize()
    if real is None and not isinstance(lazy.error, HandlerRefused):
        raise _cannot_load(lazy.error, runtime.project.root) from None
    result.layouts = list(record.layouts)
    result.middleware = introspect.middleware(runtime, app, record)
    result.exception_handlers = introspect.exception_handlers(runtime, app, record)
    if real is None:  # FastAPI refused the handler: the route answers 500
        assert isinstance(lazy.error, HandlerRefused)
        result.error, result.hint, result.status = lazy.error.message, lazy.error.hint, 500
        return
    result.dependencies, result.parameters = introspect.dependant(runtime, record, real)


def _own_types_said(trees: _Trees, decision: Decision, path: str) -> list[str]:
    """What each project type (SPEC 14.1) of the routes tried up to the answer said of its
    segment, in the order asked: the ones that said no (the router went on), then the
    answer's."""
    said: list[str] = []
    for entry in decision.candidates:
        owner = trees.owner(entry)
        if owner is None:
            continue
        runtime, lazy = owner
        r = lazy.record
        own = own_types_of(r.template)
        found = compile_served(r.path)[0].match(path) if own else None
        if found is not None:
            kinds = {name: runtime.modules.types.get(name) for _, name in own}
            said.append(types_said(r, found.groupdict(), kinds))
        if entry is decision.route:
            break
    return said


def _cannot_load(error: Exception | None, root: Path) -> FastAPIRouteError:
    """A file the route needs (its own, a layout, a helper they import) raised when imported,
    or our own refusal of it (a layout's value, a handler the file lacks): one message, without
    the tracebacks; `explain` exits 1 (docs/decisions.md)."""
    cause = error.__cause__ if error is not None else None
    frames = _project_frames(cause, root) if isinstance(error, HandlerImportError) else []
    if cause is not None and frames:
        (file, line), (deepest, deepest_line) = frames[0], frames[-1]
        raised = "" if (deepest, deepest_line) == (file, line) else (
            f" (raised at {deepest}:{deepest_line})")
        return FastAPIRouteError(
            f"{file}:{line} failed to import: {type(cause).__name__}: {cause}{raised}",
            f"fix the error in {file}: importing it raises, as it would when the app serves "
            "this route",
        )
    if isinstance(error, FastAPIRouteError):
        return FastAPIRouteError(error.message, error.hint)
    return FastAPIRouteError(f"the route cannot be made: {type(error).__name__}: {error}")


def _project_frames(error: BaseException | None, root: Path) -> list[tuple[str, int]]:
    """The places in project files an exception went through, outermost first (the file
    whose import failed, then where it was raised)."""
    if error is None:
        return []
    places = [(f.filename, f.lineno) for f in traceback.extract_tb(error.__traceback__)]
    if isinstance(error, SyntaxError):  # in a file the failing one imports
        places.append((error.filename or "", error.lineno))
    found = []
    for filename, line in places:
        try:
            file = Path(filename).resolve().relative_to(root.resolve()).as_posix()
        except (ValueError, OSError):
            continue
        if line:
            found.append((file, line))
    return found


def _loser(winner: RouteRef, trees: _Trees, entry: BaseRoute, path: str,
           scope: Scope) -> Loser:
    ref = _ref(trees, entry, scope)
    if trees.owner(entry) is None:
        return Loser(ref, None, "comes after it in the app's routes")
    segment, reason = why_first(winner.path, ref.path, path)
    return Loser(ref, segment, reason)


def _not_allowed(result: Explanation, trees: _Trees, decision: Decision,
                 scope: Scope) -> None:
    result.outcome, result.status = "method_not_allowed", 405
    owner = trees.owner(decision.route)
    if owner is not None:
        r = owner[1].record
        result.route = RouteRef(r.method, r.path, r.file, r.line)
        result.allow = introspect.allow_of(owner[1].materialize(), None)
        return
    result.route, served, note = introspect.app_route(trees.main, decision.route, scope)
    result.allow = introspect.allow_of(decision.route, served)
    result.notes.append(note)


def _default(result: Explanation, runtime: Runtime, app: FastAPI, decision: Decision) -> None:
    """Nothing matched: the router's default answers (the refused websocket, the public/ file,
    the 404), as `extras` installed it."""
    if decision.scope.get("type") == "websocket":
        result.outcome, result.status = "websocket_refused", 403
        return
    if runtime.pages is None:  # an app you made, with trees include added: its own 404
        result.not_found = _apps_404(app, "the app's")
        return
    fallback = runtime.pages.fallback
    if app.router.default is not fallback:
        result.status = None
        result.not_found = "the router's default that app.py's configure set"
        return
    served = fallback.static_file(decision.scope)
    if served is not None:
        result.outcome, result.status = "static", 200
        result.static_file = _relative(served, runtime.project.root)
    elif fallback.not_found is not None:
        result.not_found = f"{NOT_FOUND_FILE} (handler)"
    else:
        result.not_found = _apps_404(app, "app.py's")


def _apps_404(app: FastAPI, whose: str) -> str:
    if 404 in app.exception_handlers:
        return f"{whose} exception_handlers[404]"
    return "FastAPI's JSON 404"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
