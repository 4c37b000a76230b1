"""The file-system grammar: which files are routes, what a folder name means in the URL.

This module is the one home of that grammar. `parse_segment` reads one folder name; `extend`
and `shape_of` read a chain of folders below the route folder (what URL it means, which path
parameters, which catch-all, and why no URL at all). Validation, the cache's record check and
module naming all call these, so a new kind of segment is one change here.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from enum import Enum
from typing import NamedTuple

ROUTE_FILES = ("route.py", "index.py")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
WEBSOCKET = "WEBSOCKET"  # a route file's websocket handler: async def WEBSOCKET(websocket, ...)
HANDLER_NAMES = (*HTTP_METHODS, WEBSOCKET)
# What a folder's _layout.py may say about every route below it (SPEC 9), as APIRouter says it.
LAYOUT_FILE = "_layout.py"
LAYOUT_NAMES = ("dependencies", "tags", "responses", "deprecated", "include_in_schema",
                "middleware")

# Project files beside routes/ (SPEC section 1).
CONFIG_FILE = "config.py"
MIDDLEWARE_FILE = "middleware.py"
NOT_FOUND_FILE = "not-found.py"
DOCS_FILE = "docs.py"
APP_FILE = "app.py"  # what one would pass to FastAPI(...)
APP_NAMES = ("lifespan", "exception_handlers", "middleware", "configure")

# Names a path parameter may not take: the handler's own `request` or `websocket` argument.
RESERVED_PARAMS = frozenset({"request", "websocket"})

_BRACKETED = re.compile(r"^\[(?P<body>.*)\]$")
_GROUP = re.compile(r"^\((?P<name>.*)\)$")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly


class SegmentKind(Enum):
    STATIC = 0
    PARAM = 1
    CATCHALL = 2
    GROUP = 3
    SKIPPED = 4  # `_helpers`, `.git`: never part of a route's path
    OPTIONAL_CATCHALL = 5  # [[...slug]]: the folder's own URL and everything below it


# Typed segments, `[id=int]` (SvelteKit's `=`: a `:` cannot be in a file name on Windows),
# as Starlette's convertors, in the order they are tried at one segment: typed before untyped.
SEGMENT_TYPES = ("int", "uuid", "float", "str")
CATCHALLS = (SegmentKind.CATCHALL, SegmentKind.OPTIONAL_CATCHALL)


class Segment(NamedTuple):
    """One folder name read as a URL segment (a NamedTuple: cheap, as `run` checks the cache
    folder by folder)."""

    kind: SegmentKind
    name: str  # static text, parameter name, or group name
    type: str = "str"  # a parameter's convertor: int, uuid, float or str

    @property
    def is_dynamic(self) -> bool:
        return self.kind in (SegmentKind.PARAM, *CATCHALLS)


class SegmentError(ValueError):
    """A folder name that cannot be a URL segment; the message explains why."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def printable(text: str) -> str:
    """Text safe to print: bytes that are not UTF-8 (which the OS hands over as lone
    surrogates) as \\xNN, control characters as escapes, so a file name can never crash or
    garble the terminal that shows a problem."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


def is_skipped_dir(name: str) -> bool:
    """Folders starting with `_` or `.` hold helpers (or caches), never routes."""
    return name.startswith(("_", "."))


def _check_param_name(name: str, folder: str) -> None:
    if not name.isidentifier():
        raise SegmentError(
            f"'{folder}': parameter name {name!r} is not a Python identifier",
            "use letters, digits and underscores, not starting with a digit, e.g. [user_id]",
        )
    if not name.isascii():
        # Starlette reads `{name}` in a path only for ASCII names: `{ü}` would be literal text.
        raise SegmentError(
            f"'{folder}': parameter name {name!r} is not ASCII, which URL templates need",
            "use ASCII letters, digits and underscores, e.g. [user_id]",
        )
    if keyword.iskeyword(name) or name in RESERVED_PARAMS:
        raise SegmentError(
            f"'{folder}': parameter name {name!r} cannot be a handler argument",
            "rename the folder, e.g. [item_id]; Python keywords, 'request' and 'websocket' "
            "are taken",
        )


# Names made only of these are plain static segments, whatever else the rules say.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]+")


def parse_segment(folder: str) -> Segment:
    """Read one folder name; raise SegmentError for names the router cannot serve."""
    if is_skipped_dir(folder):
        return Segment(SegmentKind.SKIPPED, folder)
    if _PLAIN.fullmatch(folder):
        return Segment(SegmentKind.STATIC, folder)
    try:
        folder.encode("utf-8")
    except UnicodeEncodeError:
        raise SegmentError(
            f"'{printable(folder)}': the folder name is not valid UTF-8, so no URL can reach it",
            "rename the folder using UTF-8 characters",
        ) from None
    if _CONTROL.search(folder):
        # Also a trap: Starlette's "$" matches before a final newline, so /users%0A is /users.
        raise SegmentError(
            f"'{printable(folder)}': control characters are not allowed in a folder name",
            "rename the folder without tabs, newlines or other control characters",
        )
    if "{" in folder or "}" in folder:
        raise SegmentError(
            f"'{folder}': braces are not allowed in a folder name",
            "write a path parameter as [name], not {name}",
        )
    bracketed = _BRACKETED.match(folder)
    if bracketed:
        body = bracketed.group("body")
        if body.startswith("[") or body.endswith("]"):
            inner = body[1:-1] if body.startswith("[") and body.endswith("]") else ""
            if not inner.startswith("...") or not inner[3:]:
                raise SegmentError(
                    f"'{folder}': double brackets hold an optional catch-all",
                    "write it as [[...slug]]: the folder's own URL and every path below it",
                )
            _check_param_name(inner[3:], folder)
            return Segment(SegmentKind.OPTIONAL_CATCHALL, inner[3:])
        if body.startswith("..."):
            name = body[3:]
            if not name:
                raise SegmentError(
                    f"'{folder}': a catch-all needs a name", "write it as [...slug]"
                )
            _check_param_name(name, folder)
            return Segment(SegmentKind.CATCHALL, name)
        if not body:
            raise SegmentError(f"'{folder}': empty parameter name", "write it as [name]")
        name, typed, kind = body.partition("=")
        if typed and kind not in SEGMENT_TYPES:
            raise SegmentError(
                f"'{folder}': {kind!r} is not a segment type",
                "the types are " + ", ".join(SEGMENT_TYPES) + ", e.g. [id=int]",
            )
        _check_param_name(name, folder)
        return Segment(SegmentKind.PARAM, name, kind if typed else "str")
    if "[" in folder or "]" in folder:
        raise SegmentError(
            f"'{folder}': brackets must enclose the whole folder name",
            "a path parameter is a folder named exactly [name]",
        )
    group = _GROUP.match(folder)
    if group:
        if not group.group("name").strip():
            raise SegmentError(f"'{folder}': a group needs a name", "write it as (name)")
        return Segment(SegmentKind.GROUP, group.group("name"))
    return Segment(SegmentKind.STATIC, folder)


def url_piece(segment: Segment) -> str:
    """The segment as written in a Starlette/FastAPI path template."""
    if segment.kind is SegmentKind.PARAM:
        typed = "" if segment.type == "str" else ":" + segment.type
        return "{" + segment.name + typed + "}"
    if segment.kind in CATCHALLS:
        return "{" + segment.name + ":path}"
    return segment.name


def url_path(segments: list[Segment]) -> str:
    """The FastAPI path for a folder chain; groups vanish, the root is `/`."""
    pieces = [url_piece(s) for s in segments if s.kind is not SegmentKind.GROUP]
    return "/" + "/".join(pieces)


def _written(segment: Segment) -> str:
    """The folder name a dynamic segment was read from."""
    if segment.kind is SegmentKind.OPTIONAL_CATCHALL:
        return f"[[...{segment.name}]]"
    if segment.kind is SegmentKind.CATCHALL:
        return f"[...{segment.name}]"
    return f"[{segment.name}]" if segment.type == "str" else f"[{segment.name}={segment.type}]"


class Shape(NamedTuple):
    """What a chain of folders below the route folder means.

    A NamedTuple: `run` extends one per folder of the cache's table, so it must be cheap.
    """

    url: str = ""  # the URL template so far, "" for the route folder itself
    params: tuple[str, ...] = ()  # path parameters in URL order, the catch-all last
    catchall: str | None = None  # the catch-all's name, once the chain has one
    segments: tuple[Segment, ...] = ()  # one per folder, groups included
    optional: bool = False  # the catch-all is [[...name]]: it also serves the URL above it

    @property
    def path(self) -> str:
        """The FastAPI path template: `/` for the route folder itself."""
        return self.url or "/"

    @property
    def urls(self) -> list[tuple[str, tuple[str, ...], str | None]]:
        """Each (template, path parameters, catch-all) a route file here serves: one, or for
        an optional catch-all two: `/docs/{slug:path}` and `/docs` (where `slug` is [])."""
        served = [(self.path, self.params, self.catchall)]
        if self.optional:
            served.append((self.url.rsplit("/", 1)[0] or "/", self.params[:-1], self.catchall))
        return served

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.segments if s.kind is SegmentKind.GROUP)


ROOT = Shape()


def extend(shape: Shape, folder: str) -> Shape:
    """The shape one folder deeper; SegmentError where no route file could live below it."""
    segment = parse_segment(folder)
    segments = (*shape.segments, segment)
    if segment.kind is SegmentKind.SKIPPED:
        raise SegmentError(
            f"'{printable(folder)}' starts with '_' or '.', so it holds helpers, never routes",
            "rename the folder without the leading '_' or '.' to route what it holds",
        )
    if segment.kind is SegmentKind.GROUP:
        return shape._replace(segments=segments)
    if shape.catchall is not None:
        last = next(s for s in reversed(shape.segments) if s.kind in CATCHALLS)
        raise SegmentError(
            f"'{folder}' sits below the catch-all '{_written(last)}', which already takes "
            "the rest of the URL", "a catch-all must be the last segment of its path",
        )
    url = shape.url + "/" + url_piece(segment)
    if segment.kind is SegmentKind.STATIC:
        return Shape(url, shape.params, None, segments)
    if segment.name in shape.params:
        first = next(s for s in shape.segments if s.is_dynamic and s.name == segment.name)
        raise SegmentError(
            f"parameter '{segment.name}' is already used by '{_written(first)}' higher in "
            "this path", "give each path parameter its own name",
        )
    catchall = segment.name if segment.kind in CATCHALLS else None
    return Shape(url, (*shape.params, segment.name), catchall, segments,
                 segment.kind is SegmentKind.OPTIONAL_CATCHALL)


def layouts_above(folders: Sequence[str]) -> list[tuple[str, ...]]:
    """The folders (below the route folder, outermost first) whose `_layout.py` applies to a
    route file in `folders`: the route folder itself and every folder on the way down."""
    return [tuple(folders[:depth]) for depth in range(len(folders) + 1)]


def shape_of(folders: Sequence[str]) -> tuple[Shape | None, list[tuple[int, SegmentError]]]:
    """What a chain of folder names means, and every folder (by depth) that breaks a rule.

    The shape is None when any folder does; the walk goes on past a bad folder so that one
    build reports every one.
    """
    shape = ROOT
    errors: list[tuple[int, SegmentError]] = []
    for depth, folder in enumerate(folders):
        try:
            shape = extend(shape, folder)
        except SegmentError as exc:
            errors.append((depth, exc))
    return (None if errors else shape), errors


def path_pieces(path: str) -> list[str]:
    """Split a FastAPI path template back into its pieces (`/` gives none)."""
    return [p for p in path.split("/") if p]


_TEMPLATE_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


def template_params(path: str) -> list[tuple[str, str]]:
    """The path parameters of a template with their Starlette convertor, in URL order:
    `/users/{id:int}/{rest:path}` -> [("id", "int"), ("rest", "path")]; no convertor is str."""
    return [(m.group(1), m.group(2) or "str") for m in _TEMPLATE_PARAM.finditer(path)]


def piece_rank(piece: str) -> int:
    """Precedence of one path piece: static 0 < typed [id=int] 1 < [param] 2 <
    [...catchall] 3 (an optional catch-all's own URL is the folder's, a static path)."""
    if not piece.startswith("{"):
        return 0
    kind = piece[1:-1].partition(":")[2] or "str"
    return 3 if kind == "path" else 2 if kind == "str" else 1


def precedence_key(path: str) -> tuple[tuple[int, str], ...]:
    """Sort key giving static > typed param > param > catch-all at each segment, whatever the
    file order; typed params in the order int, uuid, float.

    Static names sort among themselves so the order is total and reproducible; a catch-all
    sorts after every longer path that shares its prefix.
    """
    key = []
    for piece in path_pieces(path):
        rank = piece_rank(piece)
        if rank == 0:
            key.append((rank, piece))
        elif rank == 1:
            key.append((rank, str(SEGMENT_TYPES.index(piece[1:-1].partition(":")[2]))))
        else:
            key.append((rank, ""))
    # A shorter path is never shadowed by a longer one, except by a catch-all (rank 3), which
    # already sorts last at its own position.
    return tuple(key)
