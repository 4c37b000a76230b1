"""The file-system grammar: which files are routes, what a folder name means in the URL.

This module is the one home of that grammar. `parse_segment` reads one folder name; `extend`
and `shape_of` read a chain of folders below the route folder (what URL it means, which path
parameters, which catch-all, and why no URL at all). Validation, the cache's record check and
module naming all call these, so a new kind of segment is one change here.

It is also the one reader of the URL template those folders become: `Template.parse` takes any
Starlette template apart (ours, and the routes an app adds itself), and `SEGMENT_TYPES` is the
one table of segment types (`[id=int]`), so a new segment type is one entry in that table. A
project's own types (`params/hex.py`, SPEC 14.1) are known here by name only (`own_type`):
what they accept is the project's, never in a table shared by the process.
"""

from __future__ import annotations

import functools
import keyword
import re
import sys
import uuid
from collections.abc import Callable, Collection, Sequence
from enum import Enum, IntEnum
from typing import NamedTuple, TypeVar

from .errors import printable

ROUTE_FILES = ("route.py", "index.py")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
WEBSOCKET = "WEBSOCKET"  # a route file's websocket handler: async def WEBSOCKET(websocket, ...)
HANDLER_NAMES = (*HTTP_METHODS, WEBSOCKET)
# What a folder's _layout.py may say about every route below it (SPEC 9), as APIRouter says it.
LAYOUT_FILE = "_layout.py"
LAYOUT_NAMES = ("dependencies", "tags", "responses", "deprecated", "include_in_schema",
                "middleware", "exception_handlers")

# Project files beside routes/ (SPEC section 1).
CONFIG_FILE = "config.py"
MIDDLEWARE_FILE = "middleware.py"
NOT_FOUND_FILE = "not-found.py"
DOCS_FILE = "docs.py"
APP_FILE = "app.py"  # what one would pass to FastAPI(...)
APP_NAMES = ("lifespan", "exception_handlers", "middleware", "configure")
# A project's own segment types (SPEC 14.1): `params/hex.py` beside routes/ makes `[x=hex]`.
PARAMS_DIR = "params"

# The documentation pages the app adds (FastAPI's, or docs.py's at DOCS_URL) when docs are on.
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"  # FastAPI's default, with Swagger UI
REDOC_URL = "/redoc"
# With offline docs (config.py's `docs = {"offline": True}`), the files each page loads, served
# below the page's own URL (`/docs/swagger-ui.css`) as FastAPI puts the OAuth2 redirect there.
SWAGGER_UI_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")
REDOC_ASSETS = ("redoc.standalone.js", "favicon.png")

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


CATCHALLS = (SegmentKind.CATCHALL, SegmentKind.OPTIONAL_CATCHALL)


class Rank(IntEnum):
    """Precedence of a template piece at one URL segment: the lower, the sooner tried."""

    STATIC = 0
    TYPED = 1  # [id=int]
    PARAM = 2  # [id]
    CATCHALL = 3  # [...rest], [[...rest]]


class SegmentType(NamedTuple):
    """One kind of path parameter: what `[id=NAME]` (or `{id:NAME}` in a template) means."""

    name: str  # after `=` in a folder, after `:` in a template (the default `str` is unwritten)
    python: type  # what the handler receives; FastAPI derives the OpenAPI schema from it
    rank: Rank  # TYPED, PARAM (str) or CATCHALL (path)
    example: str  # one segment it matches, to show a URL in a message
    # What the type accepts: the regex of one segment (`pattern_of` reads it), or a function
    # giving it where that depends on the interpreter (an int's digits). None: whatever the
    # regex of Starlette's convertor of that name matches, which it converts without fail. A
    # built-in type narrows Starlette's regex where its `convert` would raise or give what the
    # type cannot mean. Our routes compile it with a convertor of ours (`convertor_name`), never
    # by changing Starlette's. (A project's own type's pattern is the project's: `own_type`.)
    pattern: str | Callable[[], str] | None = None


# Every project type's grammar: rank, place and one-segment bound are the same for all, and
# need nothing of the project; what it accepts (`match`, `pattern`, `description`) is the
# project's, read by the runtime from its own params/ (runtime/segment_types.py). So the
# grammar holds no project's table, and two projects in one process cannot see each other's.
OWN_EXAMPLE = "value"  # a segment to show in a message; the project's `match` decides


@functools.lru_cache(maxsize=256)
def own_type(name: str) -> SegmentType:
    """A project's own type (`[color=hex]` of `params/hex.py`) as the grammar knows it: a
    string of one URL segment, typed, tried after the built-in typed ones, in name order."""
    return SegmentType(name, str, Rank.TYPED, OWN_EXAMPLE)


def _int_digits() -> str:
    """An int Python will read: at most `sys.get_int_max_str_digits()` digits, leading zeros
    included (0: no limit, as on a Python older than the limit). Read when a route is compiled:
    past the limit, Starlette's `int()` raised ValueError inside routing (a 500)."""
    limit: int = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    return "[0-9]+" if limit == 0 else f"[0-9]{{1,{limit}}}"


# A float below 1e308: at most 308 digits before the point, leading zeros aside, so every value
# matched is finite (Starlette's regex let 309 digits through, which `float()` makes `inf`; the
# few finite values from 1e308 to 1.8e308 are refused with them). Written so that no text makes
# the regex backtrack more than linearly (a leading 0 is either all zeros or before a 1-9).
_FINITE_FLOAT = r"(?:0+|0*[1-9][0-9]{0,307})(?:\.[0-9]+)?"

# Every segment type, by name (SvelteKit's `=`: a `:` cannot be in a file name on Windows),
# as Starlette's convertors; typed ones in the order they are tried at one segment. `path` is
# the catch-all's, never written `[x=path]`. A project's own types are not (`own_type`).
SEGMENT_TYPES: dict[str, SegmentType] = {t.name: t for t in (
    SegmentType("int", int, Rank.TYPED, "1", _int_digits),
    SegmentType("uuid", uuid.UUID, Rank.TYPED, "00000000-0000-0000-0000-000000000000"),
    SegmentType("float", float, Rank.TYPED, "1.5", _FINITE_FLOAT),
    SegmentType("str", str, Rank.PARAM, "1"),
    SegmentType("path", str, Rank.CATCHALL, "a/b"),
)}
BUILTIN_TYPES = frozenset(SEGMENT_TYPES)  # Starlette's names, which a project may not take
DEFAULT_TYPE = "str"  # [id] is [id=str], written {id} in a template
CATCHALL_TYPE = "path"  # [...rest] is {rest:path}
OWN_CONVERTOR = "fastapi_route_"  # our convertor of a built-in type the table narrows
OWN_SEGMENT = "fastapi_route_segment"  # what our routes compile a project type with: [^/]+


def pattern_of(kind: SegmentType) -> str | None:
    """The regex of one segment the type accepts, as the table says it now; None: Starlette's."""
    return kind.pattern() if callable(kind.pattern) else kind.pattern


def convertor_name(kind: SegmentType) -> str:
    """The Starlette convertor our routes compile a segment of this type with: its own name,
    except for a built-in type the table narrows (int, float), whose convertor is ours
    (`fastapi_route_int`): Starlette's `int`, which a host app shares, stays as it is; and a
    project's own type, one segment as text (`OWN_SEGMENT`), which its route's `matches`
    then asks the project's `match` about (runtime/segment_types.py)."""
    if kind.name not in BUILTIN_TYPES:
        return OWN_SEGMENT
    if kind.pattern is not None:
        return OWN_CONVERTOR + kind.name
    return kind.name


# `own` below: the names of a project's own types (its params/ files). None: any name a
# params file could have, for readers of a table a build already checked (module names, the
# `routes --tree` view); () : the built-in types only.
OwnTypes = Collection[str] | None


def folder_types(own: OwnTypes = ()) -> list[str]:
    """The types a folder may name after `=`, in the order they are tried: the built-in
    typed ones, then the project's own in name order (SPEC 14.1), then `str`."""
    builtin = [t.name for t in SEGMENT_TYPES.values() if t.rank is Rank.TYPED]
    return [*builtin, *sorted(own or ()), DEFAULT_TYPE]


def params_file(name: str) -> str:
    """The file defining a project type, relative to the project root."""
    return f"{PARAMS_DIR}/{name}.py"


def params_type(rel: str) -> str | None:
    """The type a path relative to the project root defines (`params/hex.py`: `hex`), or
    None for a path that is no params file (whether the name can be a type: `is_own_type_name`)."""
    folder, _, name = rel.partition("/")
    if folder != PARAMS_DIR or "/" in name or not name.endswith(".py"):
        return None
    return name.removesuffix(".py")


def is_own_type_name(name: str) -> bool:
    """Whether a params file's stem can name a type: an ASCII identifier (what Starlette reads
    after `:` in a template), not a keyword, not a built-in type."""
    return (name.isidentifier() and name.isascii() and not keyword.iskeyword(name)
            and name not in BUILTIN_TYPES)


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


def parse_segment(folder: str, own: OwnTypes = ()) -> Segment:
    """Read one folder name; raise SegmentError for names the router cannot serve. `own`: the
    project's own segment types (see `OwnTypes`)."""
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
        if typed and kind not in folder_types(own) and not (
                own is None and is_own_type_name(kind)):
            raise SegmentError(
                f"'{folder}': {kind!r} is not a segment type",
                "the types are " + ", ".join(folder_types(own)) + f", e.g. [id=int]; "
                f"a type of your own is a file {PARAMS_DIR}/<name>.py beside the route folder "
                "defining match(value)",
            )
        _check_param_name(name, folder)
        return Segment(SegmentKind.PARAM, name, kind if typed else DEFAULT_TYPE)
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
        typed = "" if segment.type == DEFAULT_TYPE else ":" + segment.type
        return "{" + segment.name + typed + "}"
    if segment.kind in CATCHALLS:
        return "{" + segment.name + ":" + CATCHALL_TYPE + "}"
    return segment.name



def _written(segment: Segment) -> str:
    """The folder name a dynamic segment was read from."""
    if segment.kind is SegmentKind.OPTIONAL_CATCHALL:
        return f"[[...{segment.name}]]"
    if segment.kind is SegmentKind.CATCHALL:
        return f"[...{segment.name}]"
    if segment.type == DEFAULT_TYPE:
        return f"[{segment.name}]"
    return f"[{segment.name}={segment.type}]"


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


def extend(shape: Shape, folder: str, own: OwnTypes = ()) -> Shape:
    """The shape one folder deeper; SegmentError where no route file could live below it."""
    segment = parse_segment(folder, own)
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


def shape_of(folders: Sequence[str], own: OwnTypes = ()
             ) -> tuple[Shape | None, list[tuple[int, SegmentError]]]:
    """What a chain of folder names means, and every folder (by depth) that breaks a rule.

    The shape is None when any folder does; the walk goes on past a bad folder so that one
    build reports every one.
    """
    shape = ROOT
    errors: list[tuple[int, SegmentError]] = []
    for depth, folder in enumerate(folders):
        try:
            shape = extend(shape, folder, own)
        except SegmentError as exc:
            errors.append((depth, exc))
    return (None if errors else shape), errors


# --------------------------------------------------------------------------- URL templates

# A parameter as Starlette reads one in a template (`{ü}` or `{a-b}` is literal text to it).
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")

Key = tuple[tuple[int, str], ...]  # a template's place in precedence order


class Piece(NamedTuple):
    """One `/`-separated piece of a URL template (a NamedTuple: `run` reads one per folder of
    every route it serves)."""

    text: str  # as written: users, {id:int}, {slug:path}; {stem}.txt in an app's own route
    rank: Rank = Rank.STATIC
    param: str = ""  # the parameter of a piece that is exactly one {name} or {name:type}
    type: SegmentType | None = None  # that parameter's type; None when the table has none
    # False: a convertor the table does not know, or `path` within text: it may match a "/".
    bounded: bool = True
    key: tuple[int, str] = (Rank.STATIC, "")  # its place in precedence order at one segment


class Template(NamedTuple):
    """A URL template (`/users/{user_id:int}/{rest:path}`) taken apart once (its pieces; the
    rest is read from them on demand, so that `run`'s thousands of parses stay cheap)."""

    path: str
    pieces: tuple[Piece, ...]  # `/` has none; `/users/` ends in an empty static piece
    own: bool = False  # one of our routes' templates: `{x:NAME}` of no known type is a project's

    @staticmethod
    def parse(path: str, own: bool = False) -> Template:
        """Any Starlette template, memoised per string: many routes share one. `own`: a
        template of a route file (`RouteEntry.template`), where a convertor name the table
        does not know is a project's own type (SPEC 14.1), not an app's convertor."""
        return _parse(path, own)

    @property
    def key(self) -> Key:
        """Its place in precedence order, see `precedence_key` (memoised per path: every
        validation sorts the whole table by it)."""
        return _key(self.path, self.own)

    @property
    def bounded(self) -> bool:
        """Each piece matches static text, exactly one URL segment, or (a whole {name:path})
        the rest: what a request could match is known without running Starlette's regex."""
        return self.path[:1] == "/" and all([p.bounded for p in self.pieces])

    @property
    def params(self) -> tuple[tuple[str, SegmentType], ...]:
        """The path parameters with their type, in URL order."""
        return tuple((p.param, p.type) for p in self.pieces if p.type is not None)

    @property
    def prefix(self) -> str:
        """The text every path it matches starts with: `/users/` for `/users/{id}`."""
        statics: list[str] = []
        for piece in self.pieces:
            if piece.rank is not Rank.STATIC:
                return "/" + "".join(text + "/" for text in statics)
            statics.append(piece.text)
        return self.path

    @property
    def openapi_path(self) -> str:
        """The path as the OpenAPI document writes it: `/docs/{slug}`, not `{slug:path}`."""
        return "/" + "/".join(
            _PARAM.sub(r"{\1}", p.text) if p.rank else p.text for p in self.pieces
        )

    @property
    def example(self) -> str:
        """A URL the template matches, for a message: `/users/1` for `/users/{id:int}`."""
        return "/" + "/".join(p.type.example if p.type else p.text for p in self.pieces)


def _type_of(name: str, own: bool) -> SegmentType | None:
    kind = SEGMENT_TYPES.get(name)
    if kind is None and own and is_own_type_name(name):
        return own_type(name)
    return kind


T = TypeVar("T")


def memo_by_text(func: Callable[[str, bool], T]) -> Callable[[str, bool], T]:
    """`functools.lru_cache` of a function of a text and a flag, as one cache per flag keyed
    by the text alone. A cache keyed by a (text, flag) tuple is a dict the garbage collector
    tracks again whenever a key comes (a tuple is tracked when made), and the next collection
    walks all its entries (20,000 in `dev` at 10,000 route files, after each new URL); one
    keyed by a str is never tracked."""
    def cache(flag: bool) -> Callable[[str], T]:
        return functools.lru_cache(maxsize=1 << 16)(lambda text: func(text, flag))

    caches = {flag: cache(flag) for flag in (False, True)}

    @functools.wraps(func)
    def cached(text: str, own: bool = False) -> T:
        return caches[bool(own)](text)

    return cached


@memo_by_text  # pieces recur: `users`, `{id:int}`, ...
def _piece(text: str, own: bool = False) -> Piece:
    if "{" not in text:
        return Piece(text, key=(Rank.STATIC, text))
    whole = _PARAM.fullmatch(text)
    if whole:
        kind = _type_of(whole.group(2) or DEFAULT_TYPE, own)
        if kind is None:
            return Piece(text, Rank.PARAM, whole.group(1), bounded=False, key=(Rank.PARAM, ""))
        # Typed segments are tried in the table's order, then a project's own in name order
        # (SPEC 14.1); untyped ones are all alike.
        order = ""
        if kind.name in SEGMENT_TYPES and kind.rank is Rank.TYPED:
            order = f"0{list(SEGMENT_TYPES).index(kind.name):03}"
        elif kind.rank is Rank.TYPED:
            order = "1" + kind.name
        return Piece(text, kind.rank, whole.group(1), kind, key=(kind.rank, order))
    kinds = [SEGMENT_TYPES.get(m.group(2) or DEFAULT_TYPE) for m in _PARAM.finditer(text)]
    if not kinds:
        return Piece(text, key=(Rank.STATIC, text))  # braces Starlette reads as text
    # `{stem}.txt`: text and parameters in one piece (an app's own route, never ours).
    one_segment = all(k is not None and k.rank is not Rank.CATCHALL for k in kinds)
    return Piece(text, Rank.PARAM, bounded=one_segment, key=(Rank.PARAM, ""))


@memo_by_text
def _parse(path: str, own: bool = False) -> Template:
    pieces = () if path == "/" else tuple([_piece(t, own) for t in path.split("/")[1:]])
    return Template(path, pieces, own)


@memo_by_text
def _key(path: str, own: bool = False) -> Key:
    return tuple([p.key for p in _parse(path, own).pieces if p.text])


def segment_regex(kind: SegmentType) -> re.Pattern[str]:
    """What one URL segment of this type looks like: what the table says it accepts, else the
    regex of Starlette's convertor of that name (`re` keeps the compiled patterns)."""
    pattern = pattern_of(kind)
    if pattern is None and kind.name not in BUILTIN_TYPES:
        pattern = "[^/]+"  # a project's own type: one segment, which its `match` may refuse
    if pattern is None:
        from starlette.convertors import CONVERTOR_TYPES

        pattern = CONVERTOR_TYPES[kind.name].regex
    return re.compile(pattern)


def _own_convertor(param: re.Match[str]) -> str:
    kind = _type_of(param.group(2) or DEFAULT_TYPE, True)
    if kind is None or convertor_name(kind) == kind.name:
        return param.group(0)
    return "{" + param.group(1) + ":" + convertor_name(kind) + "}"


def compiled_template(path: str) -> str:
    """The template our routes compile (`runtime.endpoints.compile_served`): each parameter
    with the convertor `convertor_name` gives its type, `{id:int}` as `{id:fastapi_route_int}`,
    a project's `{color:hex}` as `{color:fastapi_route_segment}`. What users see (the route's
    path, `routes`, `explain`, the cache, OpenAPI) stays `path`."""
    return _PARAM.sub(_own_convertor, path)


def path_pieces(path: str) -> list[str]:
    """A FastAPI path template's pieces as text (`/` gives none)."""
    return [p.text for p in Template.parse(path).pieces if p.text]


def piece_rank(piece: str) -> Rank:
    """Precedence of one path piece of a route file: static 0 < typed [id=int] 1 < [param] 2 <
    [...catchall] 3 (an optional catch-all's own URL is the folder's, a static path)."""
    return _piece(piece, True).rank


def precedence_key(path: str) -> Key:
    """Sort key giving static > typed param > param > catch-all at each segment, whatever the
    file order; typed params in the table's order (int, uuid, float).

    Static names sort among themselves so the order is total and reproducible; a catch-all
    sorts after every longer path that shares its prefix. A shorter path is never shadowed by
    a longer one, except by a catch-all (rank 3), which already sorts last at its position.
    A route file's template: a project's own types after the built-in ones, in name order.
    """
    return Template.parse(path, own=True).key
