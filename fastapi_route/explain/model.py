"""What `explain` says about a request: plain dataclasses, written by `render` for a reader and
by `to_json` for tools."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["route", "app_route", "method_not_allowed", "redirect", "static",
                  "not_found", "websocket_refused", "unknown"]
Source = Literal["cache", "scan"]


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
    file: str | None  # relative to the project root; None: not defined in the project
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
class Handling:
    """An exception handler that may answer what the route raises, in lookup order."""

    key: str  # the exception class's name, or the status code
    name: str  # the handler's qualified name
    origin: str  # a _layout.py, app.py, FastAPI (its defaults), or the host app's module
    last_resort: bool = False  # Exception or 500: answers only what no other handler does


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
    exception_handlers: list[Handling] = field(default_factory=list)  # in lookup order
    parameters: list[Parameter] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)  # a 405's Allow header
    static_file: str | None = None
    location: str | None = None  # a redirect's target
    not_found: str | None = None  # who answers the 404
    error: str | None = None  # FastAPI refused the route's handler: the app answers 500
    hint: str | None = None  # how to mend that
    notes: list[str] = field(default_factory=list)

    @property
    def answered_by(self) -> str | None:
        """The file that answers: the route's (or an app route's, where the project defines
        it), or the public/ file."""
        if self.route is not None:
            return self.route.file
        return self.static_file
