"""Dispatch by the route tree instead of trying every route's regex in turn.

Starlette (so FastAPI) finds a request's route by calling `matches()` on every route in order,
so a request to a route near the end of a 2000-route table pays for ~2000 regexes. A segment
trie built from the route templates narrows a path to the few routes that could possibly
match it; FastAPI's own router loop then runs over just those, in their original order.

Exactness comes from two properties: the candidates are a superset of the routes whose regex
can match (path or trailing-slash twin), and they keep the app's order. The router's own
`app()` (FastAPI's or Starlette's, whatever the version: 405s, redirect_slashes, the default)
runs unchanged over a copy of the router holding only the candidates. Routes the trie cannot
reason about (mounts, hosts, included routers, custom convertors) are candidates for every
path, so sub-apps and routes added by hand keep working.

`replay.replay` (what `explain` reads) runs the same loop over the same `Dispatcher.view`, with
probes in place of the routes: one decision, whether a request is served or explained.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Route, Router, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ..conventions import Rank, Template, memo_by_text
from .routepath import get_route_path

log = logging.getLogger("fastapi_route")


@dataclass(slots=True)
class Node:
    """One step of the trie. An index made from the last one shares every node no route
    came to or left (`RouteIndex.updated`): nodes are never changed once the index is in use,
    a change makes new copies of the nodes on its path."""

    static: dict[str, Node] = field(default_factory=dict)
    segment: Node | None = None  # a {param}: any one segment
    here: tuple[int, ...] = ()  # the keys of the routes whose template ends at this node
    rest: tuple[int, ...] = ()  # {name:path}: the rest of the path

    def child(self, piece: str | None) -> Node:
        """While the index is made (`RouteIndex.__init__`): the child, made if need be."""
        if piece is None:
            if self.segment is None:
                self.segment = Node()
            return self.segment
        return self.static.setdefault(piece, Node())

    def copy(self) -> Node:
        return Node(self.static, self.segment, self.here, self.rest)  # `static` shared


class _Rest:
    """The trie step of a {name:path} piece: everything after this point."""


REST = _Rest()
Step = str | _Rest | None  # static text, the rest, or None: any one segment


@memo_by_text  # dev indexes the whole table again for a new URL
def _pieces(path: str, own: bool = False) -> tuple[Step, ...] | None:
    """A template as trie steps, or None when the trie cannot bound what it matches (a
    convertor the segment-type table does not know, or a catch-all within text). `own`: a
    route file's template, whose project types are one segment each (SPEC 14.1)."""
    template = Template.parse(path, own)
    if not template.bounded:
        return None
    steps: list[Step] = []
    for piece in template.pieces:
        if piece.rank is Rank.STATIC:
            steps.append(piece.text)
        elif piece.rank is Rank.CATCHALL:
            steps.append(REST)  # {name:path}: everything from here on
            break
        else:
            steps.append(None)  # {name}, {name:int}, "{stem}.txt": exactly one segment
    return tuple(steps) or ("",)  # `/`: the one empty segment of the root


def _steps(route: BaseRoute) -> tuple[Step, ...] | None:
    path = getattr(route, "path", None)
    return (_pieces(path, getattr(route, "indexable", False))
            if isinstance(path, str) and _indexable(route) else None)


def _with(node: Node, steps: tuple[Step, ...], depth: int, key: int, add: bool) -> Node:
    """A copy of `node` with `key` put in (`add`) or taken out at the end of `steps` (from
    `depth` on): the nodes on the way are new, the others shared."""
    new = node.copy()
    if depth == len(steps) or isinstance(steps[depth], _Rest):
        if depth == len(steps):
            new.here = _changed(node.here, key, add)
        else:
            new.rest = _changed(node.rest, key, add)
        return new
    step = steps[depth]
    if step is None:
        new.segment = _with(node.segment or Node(), steps, depth + 1, key, add)
    else:
        assert isinstance(step, str)
        new.static = dict(node.static)  # copied before it changes: the old node keeps its own
        new.static[step] = _with(node.static.get(step) or Node(), steps, depth + 1, key, add)
    return new


def _changed(keys: tuple[int, ...], key: int, add: bool) -> tuple[int, ...]:
    return (*keys, key) if add else tuple(k for k in keys if k != key)


class RouteIndex:
    """The trie over one list of routes, answering "which could match this path?".

    Its leaves hold keys, not positions: a key stands for one place of the list (the id of
    a route, or of the stand-in a real route is swapped in for: `keys`), and `position` says
    where each is in this list. So the index of a list that differs from the last by a few
    routes is the last one with those few taken out and put in (`updated`): dev adds a URL
    to 19,600 routes with a few new nodes, instead of 15,000 for the collector to walk."""

    def __init__(self, routes: Sequence[BaseRoute], keys: Sequence[int] | None = None) -> None:
        self.routes = routes
        self.size = len(routes)
        self.keys = [id(r) for r in routes] if keys is None else list(keys)
        # ints only: a dict the collector does not track (19,600 entries in dev)
        self.position = {key: number for number, key in enumerate(self.keys)}
        self.root = Node()
        self.everywhere: list[int] = []  # keys
        for route, key in zip(routes, self.keys, strict=True):
            steps = _steps(route)
            if steps is None:
                self.everywhere.append(key)
                continue
            node = self.root
            for step in steps:
                if isinstance(step, _Rest):
                    node.rest += (key,)
                    break
                node = node.child(step)
            else:
                node.here += (key,)

    def updated(self, routes: Sequence[BaseRoute], keys: Sequence[int]) -> RouteIndex:
        """The index of `routes` (a place's key in `keys`), made from this one where they
        differ by a few keys; whole where many changed."""
        now = set(keys)
        gone = [k for k in self.keys if k not in now]
        came = [i for i, k in enumerate(keys) if k not in self.position]
        if len(gone) + len(came) > len(keys) // 8:
            return RouteIndex(routes, keys)
        index = RouteIndex.__new__(RouteIndex)
        index.routes, index.size, index.keys = routes, len(routes), list(keys)
        index.position = {key: number for number, key in enumerate(index.keys)}
        root, everywhere = self.root, self.everywhere
        changes = [(self.routes[self.position[k]], k, False) for k in gone]
        changes += [(routes[i], keys[i], True) for i in came]
        for route, key, add in changes:
            steps = _steps(route)
            if steps is not None:
                root = _with(root, steps, 0, key, add)
            else:
                everywhere = [*everywhere, key] if add else [k for k in everywhere if k != key]
        index.root, index.everywhere = root, everywhere
        return index

    def anywhere(self) -> set[int]:
        """The positions of the routes that are candidates for every path."""
        return {self.position[k] for k in self.everywhere}

    def candidates(self, path: str, into: set[int]) -> None:
        """The positions of the routes that could match `path`, added to `into`."""
        segments = path.split("/")[1:]
        position = self.position
        stack = [(self.root, 0)]
        while stack:
            node, depth = stack.pop()
            into.update(map(position.__getitem__, node.rest))
            if depth == len(segments):
                into.update(map(position.__getitem__, node.here))
                continue
            segment = segments[depth]
            found = node.static.get(segment)
            if found is not None:
                stack.append((found, depth + 1))
            if node.segment is not None:
                stack.append((node.segment, depth + 1))


# The `matches` of the route classes whose match the template says all of (Starlette's,
# FastAPI's): a subclass that decides otherwise (a case-insensitive path, a header) is tried
# for every path, as the router would try it.
_TEMPLATE_MATCHES = {Route.matches, WebSocketRoute.matches, APIRoute.matches,
                     APIWebSocketRoute.matches}


def _indexable(route: BaseRoute) -> bool:
    """Plain path routes (Route, APIRoute, websocket routes, ours: `indexable`) whose
    template says which paths they match; not mounts, hosts or routes that match their own
    way."""
    if getattr(route, "indexable", False):
        return True
    return (isinstance(route, (Route, WebSocketRoute))
            and type(route).matches in _TEMPLATE_MATCHES
            and route.path_regex.flags == _PLAIN_FLAGS)


_PLAIN_FLAGS = re.compile("").flags  # what Starlette's compile_path gives: no IGNORECASE


def _toggled(path: str) -> str | None:
    """The trailing-slash twin redirect_slashes would try, if any."""
    if path == "/":
        return None
    return path.rstrip("/") if path.endswith("/") else path + "/"


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class Dispatcher:
    """Installed in place of a router's routing loop; see the module docstring."""

    def __init__(self, router: Router, routing_loop: Handler) -> None:
        self.router = router
        self.routing_loop = routing_loop
        self._built_for: list[BaseRoute] | None = None
        self._size = -1
        self._index: RouteIndex | None = None
        self._views: dict[tuple[int, ...], Router] = {}
        self._ahead: tuple[list[BaseRoute], RouteIndex] | None = None  # `prepare`

    def prepare(self, routes: list[BaseRoute], keys: Sequence[int] | None = None) -> None:
        """Index a list of routes the router is about to take (`router.routes = routes`),
        ahead of it: in another thread, so that the first request after the swap does not
        build it (dev swaps in a table of thousands of routes while the app serves). `keys`:
        what stands for each place of the list (see `RouteIndex`; the routes' ids when not
        given): the index is the current one updated where the keys differ."""
        keys = [id(r) for r in routes] if keys is None else keys
        index, built_for = self._index, self._built_for
        # Updated only from the index of the router's list as it is: its keys are ids of
        # objects that list keeps alive. An older index's may have been freed and their ids
        # taken by new routes, which `updated` would take for the old ones.
        current = (index is not None and built_for is self.router.routes
                   and index.size == len(built_for))
        self._ahead = (routes, index.updated(routes, keys) if current and index is not None
                       else RouteIndex(routes, keys))

    def routes_replaced(self, position: int) -> None:
        """The route at `position` was swapped in place (a lazy route became real): the same
        index, but the views that hold it are stale."""
        for key in [k for k in self._views if position in k]:
            del self._views[key]

    def _current_index(self) -> RouteIndex:
        routes = self.router.routes
        if self._index is None or routes is not self._built_for or len(routes) != self._size:
            ahead, self._ahead = self._ahead, None
            # Made for this very list, unchanged since: a list whose length changed may have
            # changed anywhere.
            if ahead is not None and ahead[0] is routes and ahead[1].size == len(routes):
                self._index = ahead[1]
            else:
                self._index = RouteIndex(routes)
            self._built_for, self._size = routes, len(routes)
            self._views.clear()
        return self._index

    def view(self, path: str) -> Router:
        """A copy of the router holding only the routes that could match `path`."""
        index = self._current_index()
        found = index.anywhere()
        index.candidates(path, found)
        twin = _toggled(path)
        if twin is not None and getattr(self.router, "redirect_slashes", False):
            index.candidates(twin, found)
        key = tuple(sorted(found))
        view = self._views.get(key)
        if view is None:
            view = copy.copy(self.router)
            routes = self.router.routes
            view.routes = [routes[i] for i in key]
            self._views[key] = view
        return view

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.routing_loop(scope, receive, send)
            return
        view = self.view(get_route_path(scope))
        scope.setdefault("router", self.router)  # url_for sees every route
        await view.app(scope, receive, send)


def installed(router: Router) -> Dispatcher | None:
    """The Dispatcher routing `router`'s requests, if one is installed (`install`)."""
    stack: Any = getattr(router, "middleware_stack", None)
    while stack is not None:
        if isinstance(stack, Dispatcher):
            return stack
        stack = getattr(stack, "app", None)
    return None


def install(router: Router) -> Dispatcher | None:
    """Route `router`'s requests through a Dispatcher (its middleware stack is kept).

    The dispatcher leans on how Starlette's Router is built (its `app` routing loop at the
    bottom of `middleware_stack`, a router that copies). Where a router is not built so (a
    future Starlette, a custom router), nothing is changed: one warning, and Starlette's own
    routing serves every request, as fast as it is and exactly as right. A router that has
    one keeps it (a second tree included in an app).
    """
    already = installed(router)
    if already is not None:
        return already
    try:
        dispatcher = Dispatcher(router, router.app)
        dispatcher.view("/")  # builds the index and one router copy: fails here, not later
        _replace_routing_loop(router, dispatcher)
    except Exception as exc:
        log.warning("fastapi-route: trie dispatch is off for this app (%s: %s); Starlette's "
                    "own routing serves it", type(exc).__name__, exc)
        return None
    return dispatcher


def _replace_routing_loop(router: Router, dispatcher: Dispatcher) -> None:
    routing_loop = dispatcher.routing_loop
    stack: Any = router.middleware_stack
    if stack == routing_loop:
        router.middleware_stack = dispatcher
        return
    while stack is not None:  # router-level middleware: replace the innermost app
        inner: ASGIApp | None = getattr(stack, "app", None)
        if inner == routing_loop:
            stack.app = dispatcher
            return
        stack = inner
    raise RuntimeError("the router's middleware stack does not end in its routing loop")
