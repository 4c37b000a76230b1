"""The rules a route tree must keep, applied to the scan's facts; every problem in one run."""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from ..config import Config
from ..conventions import (
    CATCHALLS,
    HTTP_METHODS,
    SEGMENT_TYPES,
    WEBSOCKET,
    Piece,
    Rank,
    SegmentKind,
    SegmentType,
    Shape,
    Template,
    layouts_above,
    precedence_key,
    printable,
    shape_of,
)
from ..errors import Problem
from ..naming import operation_ids
from ..table import Route, sort_routes
from .declarations import check_app, check_layout
from .portability import check_portability
from .scan import Definition, RouteFile, Scan


@dataclass(frozen=True)
class _Placed:
    """A route file with what its folders mean, and the folder behind each URL piece."""

    file: RouteFile
    shape: Shape
    folders: tuple[str, ...]  # folder path (relative to root) of each non-group segment

    @property
    def path(self) -> str:
        return self.shape.path


def _folder(route_dir: str, folders: tuple[str, ...], depth: int) -> str:
    return "/".join((route_dir, *folders[: depth + 1]))


def _place(
    route_dir: str, file: RouteFile, problems: dict[str, Problem]
) -> _Placed | None:
    """Read the folder chain; bad folders become INVALID_SEGMENT (once per folder)."""
    shape, errors = shape_of(file.folders)
    for depth, exc in errors:
        where = _folder(route_dir, file.folders, depth)
        problems.setdefault(where, Problem(where, 0, "INVALID_SEGMENT", str(exc), exc.hint))
    if shape is None:
        return None
    folders = tuple(
        _folder(route_dir, file.folders, depth)
        for depth, segment in enumerate(shape.segments)
        if segment.kind is not SegmentKind.GROUP
    )
    return _Placed(file, shape, folders)


# --- the rules of one route file: each returns its problems, and they run in order ---


def _duplicate_methods(placed: _Placed) -> Iterator[Problem]:
    by_name: dict[str, list[int]] = defaultdict(list)
    for d in placed.file.definitions:
        by_name[d.name].append(d.line)
    for name, lines in by_name.items():
        if len(lines) > 1:
            where = ", ".join(str(n) for n in lines)
            yield Problem(
                placed.file.file, lines[1], "DUPLICATE_METHOD",
                f"{name} is defined {len(lines)} times (lines {where}); only one can serve",
                f"keep one {name} handler and remove or rename the others",
            )


def _no_handler(placed: _Placed) -> Iterator[Problem]:
    if placed.file.definitions:
        return
    found = ", ".join(placed.file.lowercase_methods)
    yield Problem(
        placed.file.file, 0, "NO_HANDLER",
        "this route file defines no handler, so it serves nothing",
        (f"handler names are upper case: found {found}, write " + found.upper())
        if found else "define a module-level GET, POST, PUT, PATCH or DELETE function",
        warning=True,
    )


# --- the rules of one handler: a binding that is not a function meets only the first ---


def _not_a_function(placed: _Placed, d: Definition) -> Iterator[Problem]:
    yield Problem(
        placed.file.file, d.line, "INVALID_HANDLER",
        f"{d.name} is bound here but not defined as a function in this file",
        f"define it in place: def {d.name}(request, ...): ...",
    )


def _missing_path_params(placed: _Placed, d: Definition) -> Iterator[Problem]:
    missing = [p for p in placed.shape.params if p not in d.params]
    if missing:
        names = ", ".join(missing)
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER",
            f"{d.name} has no parameter for the path parameter(s) {names} of its folders",
            f"add them to the signature, e.g. def {d.name}(request, {names}): ...",
        )


def _positional_only(placed: _Placed, d: Definition) -> Iterator[Problem]:
    if d.positional_only:
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER",
            f"{d.name} has positional-only parameter(s) {', '.join(d.positional_only)}, but "
            "FastAPI passes every argument by name, so each request would fail",
            f"remove the '/' from the signature of {d.name}",
        )


def _variadic(placed: _Placed, d: Definition) -> Iterator[Problem]:
    if d.variadic:
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER",
            f"{d.name} takes {', '.join(d.variadic)}, which FastAPI would read as required query "
            "parameters of those names, so each request would fail",
            f"name every parameter of {d.name} explicitly",
        )


def _sync_websocket(placed: _Placed, d: Definition) -> Iterator[Problem]:
    if d.name == WEBSOCKET and not d.is_async:
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER",
            "WEBSOCKET is a plain def, but a websocket handler awaits every message",
            "write async def WEBSOCKET(websocket, ...): ...",
        )


def _no_request(placed: _Placed, d: Definition) -> Iterator[Problem]:
    """Only with build.require_request (the default)."""
    first = "websocket" if d.name == WEBSOCKET else "request"
    if first not in d.params:
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER", f"{d.name} has no '{first}' parameter",
            f"write def {d.name}({first}, ...), or set build = "
            "{'require_request': False} in config.py",
        )


FileRule = Callable[[_Placed], Iterable[Problem]]
HandlerRule = Callable[[_Placed, Definition], Iterable[Problem]]
FILE_RULES: tuple[FileRule, ...] = (_duplicate_methods, _no_handler)


def _handler_rules(require_request: bool) -> tuple[HandlerRule, ...]:
    rules = (_missing_path_params, _positional_only, _variadic, _sync_websocket,
             _typed_segment_mismatches)
    return (*rules, _no_request) if require_request else rules


def _check_definitions(placed: _Placed, handler_rules: tuple[HandlerRule, ...]
                       ) -> list[Problem]:
    """Every rule of one route file and of each of its handlers, in order."""
    problems = [p for rule in FILE_RULES for p in rule(placed)]
    for d in placed.file.definitions:
        for rule in handler_rules if d.is_function else (_not_a_function,):
            problems.extend(rule(placed, d))
    return problems


# The type an annotation names, under Annotated[...] and a module ("uuid.UUID" -> "UUID").
_ANNOTATED = re.compile(r"^(?:typing\.)?Annotated\[\s*([^,\]]+)")


def _typed_segment_mismatches(placed: _Placed, d: Definition) -> list[Problem]:
    """`[id=int]` with `id: str`: the segment gives an int, the handler wants something
    else. An absent annotation takes the segment's type; one the build cannot read is left
    to FastAPI."""
    problems = []
    annotations = dict(d.annotations)
    given = {kind.python.__name__ for kind in SEGMENT_TYPES.values()}  # int, UUID, ...
    for segment in placed.shape.segments:
        if segment.kind is not SegmentKind.PARAM:
            continue
        kind = SEGMENT_TYPES[segment.type]
        written = annotations.get(segment.name)
        if kind.rank is not Rank.TYPED or written is None:
            continue
        inner = _ANNOTATED.match(written)
        name = (inner.group(1) if inner else written).strip().rsplit(".", 1)[-1]
        if name in given and name != kind.python.__name__:
            problems.append(Problem(
                placed.file.file, d.line, "INVALID_HANDLER",
                f"[{segment.name}={segment.type}] gives {d.name} a {segment.type}, but its "
                f"parameter {segment.name} is annotated {written}",
                f"annotate {segment.name} as {segment.type}, or drop the annotation (it "
                "takes the segment's type)",
            ))
    return problems


def _route_file_conflicts(files: list[RouteFile]) -> list[Problem]:
    by_folder: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for f in files:
        by_folder[f.folders].append(f.file)
    problems = []
    for paths in by_folder.values():
        if len(paths) > 1:
            first, *others = sorted(paths)
            for other in others:
                problems.append(
                    Problem(
                        other, 0, "ROUTE_FILE_CONFLICT",
                        f"this folder has both {first.rsplit('/', 1)[-1]} and "
                        f"{other.rsplit('/', 1)[-1]}: two files for one path",
                        "keep one of them: route.py and index.py mean the same URL",
                    )
                )
    return problems


def _example_url(path: str) -> str:
    """A URL the template matches, for a message."""
    return Template.parse(path).example


def _dynamic_conflicts(placed: list[_Placed]) -> tuple[list[Problem], set[frozenset[str]]]:
    """Sibling dynamic folders that match the same segments, in one physical folder: two
    params of one type (`[id]` beside `[user_id]`, `[a=int]` beside `[b=int]`), or two
    catch-alls. `[id=int]` beside `[slug]` is fine: typed segments are tried first."""
    children: dict[str, dict[str, str]] = defaultdict(dict)  # parent -> folder -> what it takes
    for p in placed:
        dynamic = [s for s in p.shape.segments if s.kind is not SegmentKind.GROUP]
        for segment, folder in zip(dynamic, p.folders, strict=True):
            if segment.is_dynamic:
                parent = folder.rsplit("/", 1)[0]
                takes = "rest" if segment.kind in CATCHALLS else segment.type
                children[parent].setdefault(folder, takes)
    problems: list[Problem] = []
    pairs: set[frozenset[str]] = set()
    for parent, kids in sorted(children.items()):
        for takes in sorted(set(kids.values())):
            folders = sorted(f for f, t in kids.items() if t == takes)
            for other in folders[1:]:
                pairs.add(frozenset((folders[0], other)))
                a, b = folders[0].rsplit("/", 1)[-1], other.rsplit("/", 1)[-1]
                problems.append(
                    Problem(
                        parent, 0, "DYNAMIC_CONFLICT",
                        f"{a} and {b} are sibling folders: one URL would mean two things",
                        "you cannot use different parameter names at the same place; "
                        "merge them under one name",
                    )
                )
    return problems, pairs


def _route_collisions(
    placed: list[_Placed], sibling_pairs: set[frozenset[str]]
) -> list[Problem]:
    """DUPLICATE_ROUTE (same method and URL) and AMBIGUOUS_ROUTE (same shape, other names)."""
    problems: list[Problem] = []
    Key = tuple[str, tuple[tuple[int, str], ...]]  # method, precedence key
    by_shape: dict[Key, list[tuple[_Placed, str, int]]] = defaultdict(list)
    for p in placed:
        for method, line in p.file.handlers().items():
            for path, _, _ in p.shape.urls:
                by_shape[(method, precedence_key(path))].append((p, path, line))
    for (method, _), entries in sorted(by_shape.items(), key=lambda kv: str(kv[0])):
        entries.sort(key=lambda e: (e[0].file.file, e[1]))
        for i, (a, path_a, _) in enumerate(entries):
            for b, path_b, line_b in entries[i + 1 :]:
                if path_a == path_b:
                    problems.append(
                        Problem(
                            b.file.file, line_b, "DUPLICATE_ROUTE",
                            f"{method} {path_a} is also served by {a.file.file}",
                            "route groups vanish from the URL, and an optional catch-all "
                            "[[...x]] serves its folder's URL too; keep one of the two handlers",
                        )
                    )
                    continue
                differing = [
                    frozenset(pair)
                    for pair in zip(a.folders, b.folders, strict=False)
                    if pair[0] != pair[1]
                ]
                if differing and differing[0] in sibling_pairs:
                    continue  # already reported as DYNAMIC_CONFLICT on the parent folder
                problems.append(
                    Problem(
                        b.file.file, line_b, "AMBIGUOUS_ROUTE",
                        f"{method} {_example_url(path_a)} matches both {path_a} "
                        f"({a.file.file}) and {path_b}, with no precedence to choose",
                        "use one parameter name at this position in every route group",
                    )
                )
    return problems


def _operation_id_collisions(files: list[RouteFile], routes: list[Route]) -> list[Problem]:
    """An `@route(operation_id=...)` that another route already has: OpenAPI ids are unique,
    and client generators turn them into method names. `routes` in precedence order."""
    chosen = {(f.file, d.name): d for f in files for d in f.definitions if d.operation_id}
    owners: dict[str, Route] = {}
    for r, generated in operation_ids(routes).items():
        if (r.file, r.method) not in chosen:
            owners.setdefault(generated, r)
    problems: list[Problem] = []
    for r in routes:
        d = chosen.get((r.file, r.method))
        if d is None or d.operation_id is None or r.is_websocket:
            continue
        other = owners.setdefault(d.operation_id, r)
        if other is not r:
            problems.append(Problem(
                r.file, d.line, "DUPLICATE_OPERATION_ID",
                f"operation_id {d.operation_id!r} is also the id of {other.label} "
                f"{other.path} ({other.file})", "choose another operation_id",
            ))
    return problems


# --- URLs the app serves before a route file, or that a route file takes from public/ ---------


@dataclass
class _Urls:
    """Concrete URLs, one segment per level, each with what serves it: finds the URLs a
    template matches without trying the template on each (a root catch-all in front of
    thousands of public files)."""

    children: dict[str, _Urls] = field(default_factory=dict)
    here: str | None = None  # what is at this URL, the first one added

    def add(self, url: str, what: str) -> None:
        node = self
        for segment in url.split("/")[1:] if url != "/" else ():
            node = node.children.setdefault(segment, _Urls())
        if node.here is None:
            node.here = what

    def below(self) -> Iterator[str]:
        """What is at every URL under this one (not at this one)."""
        for child in self.children.values():
            if child.here is not None:
                yield child.here
            yield from child.below()

    def matched(self, pieces: Sequence[Piece]) -> Iterator[str]:
        """What is at each URL the template's `pieces` match, as Starlette would match them."""
        if not pieces:
            if self.here is not None:
                yield self.here
            return
        piece, rest = pieces[0], pieces[1:]
        if piece.rank is Rank.STATIC:
            child = self.children.get(piece.text)
            if child is not None:
                yield from child.matched(rest)
        elif piece.type is not None and piece.type.rank is Rank.CATCHALL:
            yield from self.below()  # `{rest:path}` takes everything after its "/"
        elif piece.type is not None:  # one segment of a type; an unknown type: none known
            pattern = _segment_pattern(piece.type)
            for segment, child in self.children.items():
                if pattern.fullmatch(segment):
                    yield from child.matched(rest)


@functools.lru_cache(maxsize=64)
def _segment_pattern(kind: SegmentType) -> re.Pattern[str]:
    if kind.pattern is not None:  # a project's own type
        return re.compile(kind.pattern)
    from starlette.convertors import CONVERTOR_TYPES  # what the runtime's router uses

    return re.compile(CONVERTOR_TYPES[kind.name].regex)


# The documentation pages FastAPI adds (at the URLs the runtime gives it) and docs.py's.
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"  # FastAPI's default, with Swagger UI
REDOC_URL = "/redoc"


def app_pages(config: Config, docs_page: bool) -> list[tuple[str, str]]:
    """Each URL the app serves (GET and HEAD) before any route file, with what serves it, in
    the order they are registered (the first wins)."""
    if not config.docs_enabled:
        return []
    pages = [(config.openapi_url, f"FastAPI's OpenAPI document ({config.openapi_url})")]
    if docs_page:
        pages.append((DOCS_URL, f"docs.py ({DOCS_URL})"))
    else:
        pages.append((DOCS_URL, f"FastAPI's Swagger UI ({DOCS_URL})"))
        pages.append((OAUTH2_REDIRECT_URL,
                      f"FastAPI's Swagger UI OAuth2 redirect ({OAUTH2_REDIRECT_URL})"))
    pages.append((REDOC_URL, f"FastAPI's ReDoc ({REDOC_URL})"))
    return pages


def _first_handler(placed: _Placed, methods: Iterable[str]) -> tuple[str, int] | None:
    """The first of `methods` (in that order) the route file defines, with its line."""
    handlers = placed.file.handlers()
    return next(((m, handlers[m]) for m in methods if m in handlers), None)


def _shadowed_routes(placed: list[_Placed], config: Config, docs_page: bool
                     ) -> Iterator[Problem]:
    """A GET or HEAD whose URL is a page the app adds first (they answer GET and HEAD; any
    other method still reaches the route file). A template that *is* that URL never reaches
    its file: an error. A dynamic one that also matches it only loses that URL: a warning."""
    pages = app_pages(config, docs_page)
    if not pages:
        return
    urls = _Urls()
    for url, what in pages:
        urls.add(url, what)
    hint = ("move the route to another URL, or turn the docs off in config.py "
            "(docs_enabled = False)")
    if docs_page:
        hint += ", or delete docs.py"
    for p in placed:
        first = _first_handler(p, ("GET", "HEAD"))
        if first is None:
            continue
        method, line = first
        lost: dict[str, str] = {}  # what the app serves first -> the template that loses it
        for path, _, _ in p.shape.urls:
            template = Template.parse(path)
            for what in urls.matched(template.pieces):
                lost.setdefault(what, path)
        if not lost:
            continue
        advice = hint
        if any(what.startswith("FastAPI's OpenAPI") for what in lost):
            advice += ", or move the OpenAPI document (openapi_url = '/api/openapi.json')"
        whole = next((path for path in lost.values() if not Template.parse(path).params), None)
        if whole is not None:  # every GET of this template: the route never runs for it
            first_taker = next(what for what, path in lost.items() if path == whole)
            others = [what for what in lost if what != first_taker]
            also = f" (and {', '.join(others)} below it)" if others else ""
            yield Problem(p.file.file, line, "SHADOWED_ROUTE",
                          f"{method} {whole} never reaches this file: {first_taker} answers "
                          f"that URL first{also}", advice)
        else:
            yield Problem(p.file.file, line, "SHADOWED_ROUTE",
                          f"{method} {p.path} never gets {', '.join(lost)}: the app answers "
                          "those URLs first", advice, warning=True)


_SHOWN_FILES = 3  # public files named in one message; the rest are counted


def _shadowed_files(placed: list[_Placed], scan: Scan, config: Config) -> Iterator[Problem]:
    """A file in public/ whose URL a route matches is never served (routes win over files,
    SPEC 2): a GET route answers it, a route of any other method answers 405. A warning (the
    tree does what SPEC 2 says), one per route file however many files it hides."""
    static_dir = PurePosixPath(config.static_dir).as_posix()
    urls = _Urls()
    for folder, names in scan.names.items():
        if folder != static_dir and not folder.startswith(static_dir + "/"):
            continue
        for name in names:
            path = f"{folder}/{name}"
            if path not in scan.names:  # a file: every folder below public/ is listed
                urls.add(path[len(static_dir):], path)
    if not urls.children:
        return
    for p in placed:
        first = _first_handler(p, HTTP_METHODS)
        if first is None:
            continue
        hidden = list(dict.fromkeys(
            f for path, _, _ in p.shape.urls for f in urls.matched(Template.parse(path).pieces)
        ))
        if not hidden:
            continue
        method, line = first
        if len(hidden) == 1:
            what = f"hides {hidden[0]}, which is never served"
        else:
            shown = ", ".join(hidden[:_SHOWN_FILES])
            more = ", ..." if len(hidden) > _SHOWN_FILES else ""
            what = (f"hides {len(hidden)} files in {static_dir}/ ({shown}{more}), which are "
                    "never served")
        yield Problem(
            p.file.file, line, "SHADOWED_FILE",
            f"{method} {p.path} {what}: a route wins over a static file at its URL",
            "move the files or the route to other URLs (a typed segment such as [id=int] "
            "matches fewer names), or delete what is never served", warning=True,
        )


def validate(scan: Scan, config: Config) -> tuple[list[Route], list[Problem]]:
    """Check the scanned tree; return the route table (precedence order) and every problem."""
    problems = list(scan.problems)
    problems.extend(check_portability(scan))
    segment_problems: dict[str, Problem] = {}
    placed: list[_Placed] = []
    handler_rules = _handler_rules(config.build.require_request)
    for file in scan.files:
        p = _place(scan.route_dir, file, segment_problems)
        if p is not None:
            placed.append(p)
            problems.extend(_check_definitions(p, handler_rules))
    problems.extend(segment_problems.values())
    problems.extend(_route_file_conflicts(scan.files))
    conflicts, sibling_pairs = _dynamic_conflicts(placed)
    problems.extend(conflicts)
    problems.extend(_route_collisions(placed, sibling_pairs))
    for layout in scan.layouts:
        problems.extend(check_layout(layout))
    if scan.app is not None:
        problems.extend(check_app(scan.app))
    problems.extend(_shadowed_routes(placed, config, scan.docs_page))
    problems.extend(_shadowed_files(placed, scan, config))

    by_folder = {layout.folders: layout.file for layout in scan.layouts}
    routes: list[Route] = []
    for p in placed:
        applied = tuple(by_folder[f] for f in layouts_above(p.file.folders) if f in by_folder)
        for method, line in p.file.handlers().items():
            for path, params, catchall in p.shape.urls:
                routes.append(Route(method, path, p.file.file, line, params, catchall, applied))
    routes = sort_routes(routes)
    problems.extend(_operation_id_collisions(scan.files, routes))
    shown = {replace(p, file=printable(p.file), message=printable(p.message)) for p in problems}
    return routes, sorted(shown)
