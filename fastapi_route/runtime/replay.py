"""The router's decision for one request, replayed without running it: which route answers
(and whether its path or only its method matched), the redirect, or the default.

Nothing of the decision is re-implemented here. Dispatch (`dispatch.Dispatcher`) serves a
request by running the router's own `app()` loop over `Dispatcher.view(path)`, a shallow copy
of the router holding the candidate routes. The replay takes that same view (or the router
itself where no dispatcher is installed: the same routes Starlette would try) and runs the same
loop over one more shallow copy in which every entry is a probe:

- a route's probe delegates `matches()` to the route (a LazyRoute is made real then, importing
  its file, as a request would) and, when the router calls its `handle()`, records "this one
  answers" with the scope the router handed over, instead of running it;
- the default (the `public/` file, the 404, the refused websocket) is a probe too;
- FastAPI's low-priority routes (its frontend files, tried after the redirect check) are
  probes as well, where the router has them;
- a redirect is the router's own RedirectResponse, caught by a recording `send` (its status
  and Location, quoted by Starlette).

Shared with dispatch: the candidates (`Dispatcher.view`) and the routing loop, whatever the
FastAPI/Starlette version (405s, redirect_slashes, low-priority routes, the default). Not shared:
the handlers, middleware and dependencies: no probe runs one, `receive` says the client is gone,
and the coroutine is driven without an event loop, so anything that waits on real I/O stops the
replay instead of running (an `unknown` decision). The routes that lose (they also match in
full, after the winner) come from `matches()` on the remaining candidates, in order.
"""

from __future__ import annotations

import copy
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, NoMatchFound, Router
from starlette.types import Message, Receive, Scope, Send

from . import dispatch
from .dispatch import Dispatcher
from .routepath import get_route_path

Kind = Literal["full", "partial", "redirect", "default", "unknown"]
LOW_PRIORITY = "_low_priority_routes"  # FastAPI >= 0.16x: routes tried after the redirect check
ITERATE_LOW_PRIORITY = "_iter_low_priority_routes"  # with those of the included routers


@dataclass
class Decision:
    """What the router does with a request."""

    # full: `route` answers; partial: `route` serves the path, not the method (a 405);
    # redirect: the router redirects to the trailing-slash twin (`route` matches the twin);
    # default: nothing matched, the router's default answers; unknown: the loop did something
    # else (see `note`).
    kind: Kind
    route: BaseRoute | None = None  # the router's entry: a LazyRoute, a real route, a mount...
    scope: Scope = field(default_factory=dict)  # as the router handed it over (path_params)
    losers: list[BaseRoute] = field(default_factory=list)  # also FULL, after the winner
    low_priority: bool = False  # answered by one of FastAPI's low-priority routes
    status: int | None = None  # a response the router itself sent (a redirect's 307)
    location: str | None = None  # that response's Location header
    candidates: list[BaseRoute] = field(default_factory=list)  # what the router tried, in order
    note: str | None = None


class _Matching(Protocol):
    def matches(self, scope: Scope) -> tuple[Match, Scope]: ...


class _Recorder:
    def __init__(self) -> None:
        self.scope: Scope = {}  # the scope the loop runs on
        self.seen: list[tuple[_Probe, bool, Match]] = []  # (probe, on the request, match)
        self.answered: tuple[_Probe | None, Scope] | None = None  # None: the default
        self.started: Message | None = None

    async def receive(self) -> Message:
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self.started is None:
            self.started = message

    async def default(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.answered = (None, scope)


class _Probe(BaseRoute):
    """Stands in for a router entry in the replay's copy: matches as it does, runs nothing."""

    def __init__(self, target: _Matching, recorder: _Recorder, low_priority: bool = False):
        self.target = target
        self.recorder = recorder
        self.low_priority = low_priority

    @property
    def path_format(self) -> str | None:  # what FastAPI's telemetry step reads
        value = getattr(self.target, "path_format", None)
        return value if isinstance(value, str) else None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = self.target.matches(scope)
        self.recorder.seen.append((self, scope is self.recorder.scope, match))
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.recorder.answered = (self, scope)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    @property
    def route(self) -> BaseRoute | None:
        """The router entry behind the probe (a low-priority entry may be FastAPI's context
        object around one)."""
        if isinstance(self.target, BaseRoute):
            return self.target
        original = getattr(self.target, "original_route", None)
        return original if isinstance(original, BaseRoute) else None


def view_of(app: FastAPI, path: str) -> Router:
    """The router dispatch runs a request for `path` on: the dispatcher's view of the
    candidates, or the app's router itself where no dispatcher is installed."""
    dispatcher = _dispatcher_of(app)
    return dispatcher.view(path) if dispatcher is not None else app.router


def _dispatcher_of(app: FastAPI) -> Dispatcher | None:
    return dispatch.installed(app.router)  # None: the router's own loop over its routes


def replay(app: FastAPI, scope: Scope) -> Decision:
    """What the app's router does with an http or websocket `scope` (see the module
    docstring). Route files whose URL matches are imported; nothing else runs."""
    view = view_of(app, get_route_path(scope))
    recorder = _Recorder()
    probes = [_Probe(route, recorder) for route in view.routes]
    copied = copy.copy(view)
    copied.routes = list(probes)
    copied.default = recorder.default
    note = _probe_low_priority(view, copied, recorder)
    recorder.scope = run = dict(scope)
    run.setdefault("router", app.router)  # as the dispatcher sets it
    try:
        _drive(copied.app(run, recorder.receive, recorder.send))
    except _Waited:
        return Decision("unknown", candidates=list(view.routes),
                        note="the routing loop waited on something: not a routing decision")
    decision = _decide(recorder, scope, probes)
    decision.candidates = list(view.routes)
    decision.note = decision.note or note
    return decision


def _probe_low_priority(view: Router, copied: Router, recorder: _Recorder) -> str | None:
    """Give the copy probes for the router's low-priority routes (its own and those of the
    routers it includes), so that FastAPI's loop can only reach probes there too."""
    if LOW_PRIORITY not in vars(view):
        return None  # this FastAPI has none
    try:
        entries = _low_priority_entries(view)
        vars(copied)[LOW_PRIORITY] = [_Probe(e, recorder, low_priority=True) for e in entries]
    except Exception as exc:
        vars(copied)[LOW_PRIORITY] = []  # none run: the default is reported instead
        return (f"FastAPI's low-priority routes could not be replayed "
                f"({type(exc).__name__}: {exc}); if one serves this URL, it answers instead")
    return None


def _low_priority_entries(view: Router) -> list[Any]:
    """The low-priority entries the router tries, in its order: through FastAPI's own walk
    (which adds those of included routers), else its own list."""
    iterate = getattr(view, ITERATE_LOW_PRIORITY, None)
    return list(iterate() if callable(iterate) else vars(view)[LOW_PRIORITY])


class _Waited(Exception):
    pass


def _drive(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run the routing loop to its end without an event loop: probes never wait."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise _Waited


def _decide(recorder: _Recorder, scope: Scope, probes: Sequence[_Probe]) -> Decision:
    if recorder.answered is not None:
        probe, handed = recorder.answered
        if probe is None:
            return Decision("default", scope=handed)
        match = next((m for p, on_request, m in reversed(recorder.seen)
                      if p is probe and on_request and m is not Match.NONE), Match.FULL)
        kind: Kind = "full" if match is Match.FULL else "partial"
        losers = [] if probe.low_priority or kind == "partial" else _losers(probe, scope, probes)
        return Decision(kind, probe.route, handed, losers, probe.low_priority)
    started = recorder.started
    if started is not None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in started.get("headers", [])}
        status = started["status"]
        if 300 <= status < 400 and "location" in headers:
            twin = next((p.route for p, on_request, m in reversed(recorder.seen)
                         if not on_request and m is not Match.NONE), None)
            return Decision("redirect", twin, status=status, location=headers["location"])
        return Decision("unknown", status=status,
                        note=f"the router itself answered {status}")
    return Decision("unknown", note="the routing loop ended without an answer")


def _losers(winner: _Probe, scope: Scope, probes: Sequence[_Probe]) -> list[BaseRoute]:
    after = probes[next(i for i, p in enumerate(probes) if p is winner) + 1:]
    return [p.route for p in after
            if p.route is not None and p.target.matches(dict(scope))[0] is Match.FULL]
