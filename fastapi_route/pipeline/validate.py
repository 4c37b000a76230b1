"""The rules a route tree must keep, applied to the scan's facts; every problem in one run."""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any, NamedTuple

from ..config import Config
from ..conventions import (
    CATCHALLS,
    SEGMENT_TYPES,
    WEBSOCKET,
    Key,
    Rank,
    SegmentKind,
    Template,
    layouts_above,
    own_type,
    precedence_key,
)
from ..errors import Problem, printable
from ..naming import operation_ids
from ..table import RouteEntry, precedence, sort_routes
from . import portability
from .declarations import check_app, check_layout
from .placement import Placed, place
from .portability import check_portability
from .scan import Definition, RouteFile, Scan
from .shadowing import shadowed_files, shadowed_routes

# --- the rules of one route file: each returns its problems, and they run in order ---


def _duplicate_methods(placed: Placed) -> Iterator[Problem]:
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


def _no_handler(placed: Placed) -> Iterator[Problem]:
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


def _not_a_function(placed: Placed, d: Definition) -> Iterator[Problem]:
    yield Problem(
        placed.file.file, d.line, "INVALID_HANDLER",
        f"{d.name} is bound here but not defined as a function in this file",
        f"define it in place: def {d.name}(request, ...): ...",
    )


def _missing_path_params(placed: Placed, d: Definition) -> Iterator[Problem]:
    missing = [p for p in placed.shape.params if p not in d.params]
    if missing:
        names = ", ".join(missing)
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER",
            f"{d.name} has no parameter for the path parameter(s) {names} of its folders",
            f"add them to the signature, e.g. def {d.name}(request, {names}): ...",
        )


def _positional_only(placed: Placed, d: Definition) -> Iterator[Problem]:
    if d.positional_only:
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER",
            f"{d.name} has positional-only parameter(s) {', '.join(d.positional_only)}, but "
            "FastAPI passes every argument by name, so each request would fail",
            f"remove the '/' from the signature of {d.name}",
        )


def _variadic(placed: Placed, d: Definition) -> Iterator[Problem]:
    if d.variadic:
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER",
            f"{d.name} takes {', '.join(d.variadic)}, which FastAPI would read as required query "
            "parameters of those names, so each request would fail",
            f"name every parameter of {d.name} explicitly",
        )


def _sync_websocket(placed: Placed, d: Definition) -> Iterator[Problem]:
    if d.name == WEBSOCKET and not d.is_async:
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER",
            "WEBSOCKET is a plain def, but a websocket handler awaits every message",
            "write async def WEBSOCKET(websocket, ...): ...",
        )


def _no_request(placed: Placed, d: Definition) -> Iterator[Problem]:
    """Only with build.require_request (the default)."""
    first = "websocket" if d.name == WEBSOCKET else "request"
    if first not in d.params:
        yield Problem(
            placed.file.file, d.line, "INVALID_HANDLER", f"{d.name} has no '{first}' parameter",
            f"write def {d.name}({first}, ...), or set build = "
            "{'require_request': False} in config.py",
        )


FileRule = Callable[[Placed], Iterable[Problem]]
HandlerRule = Callable[[Placed, Definition], Iterable[Problem]]
FILE_RULES: tuple[FileRule, ...] = (_duplicate_methods, _no_handler)


def _handler_rules(require_request: bool) -> tuple[HandlerRule, ...]:
    rules = (_missing_path_params, _positional_only, _variadic, _sync_websocket,
             _typed_segment_mismatches)
    return (*rules, _no_request) if require_request else rules


def _check_definitions(placed: Placed, handler_rules: tuple[HandlerRule, ...]
                       ) -> list[Problem]:
    """Every rule of one route file and of each of its handlers, in order."""
    problems = [p for rule in FILE_RULES for p in rule(placed)]
    for d in placed.file.definitions:
        for rule in handler_rules if d.is_function else (_not_a_function,):
            problems.extend(rule(placed, d))
    return problems


# The type an annotation names, under Annotated[...] and a module ("uuid.UUID" -> "UUID").
_ANNOTATED = re.compile(r"^(?:typing\.)?Annotated\[\s*([^,\]]+)")


def _typed_segment_mismatches(placed: Placed, d: Definition) -> list[Problem]:
    """`[id=int]` with `id: str`: the segment gives an int, the handler wants something
    else. An absent annotation takes the segment's type; one the build cannot read is left
    to FastAPI."""
    problems = []
    annotations = dict(d.annotations)
    given = {kind.python.__name__ for kind in SEGMENT_TYPES.values()}  # int, UUID, ...
    for segment in placed.shape.segments:
        if segment.kind is not SegmentKind.PARAM:
            continue
        kind = SEGMENT_TYPES.get(segment.type) or own_type(segment.type)
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
    return [p for paths in by_folder.values() if len(paths) > 1 for p in _folder_conflicts(paths)]


def _folder_conflicts(paths: Iterable[str]) -> list[Problem]:
    """ROUTE_FILE_CONFLICT among the route files of one folder."""
    first, *others = sorted(paths)
    return [
        Problem(
            other, 0, "ROUTE_FILE_CONFLICT",
            f"this folder has both {first.rsplit('/', 1)[-1]} and "
            f"{other.rsplit('/', 1)[-1]}: two files for one path",
            "keep one of them: route.py and index.py mean the same URL",
        )
        for other in others
    ]


def _example_url(path: str) -> str:
    """A URL the template matches, for a message."""
    return Template.parse(path, own=True).example


# A dynamic folder on a route file's path: its parent, itself, and what it takes ("rest"
# for a catch-all, else its segment's type).
_Dynamic = tuple[str, str, str]


def _dynamic_folders(p: Placed) -> list[_Dynamic]:
    dynamic = [s for s in p.shape.segments if s.kind is not SegmentKind.GROUP]
    return [(folder.rsplit("/", 1)[0], folder,
             "rest" if segment.kind in CATCHALLS else segment.type)
            for segment, folder in zip(dynamic, p.folders, strict=True) if segment.is_dynamic]


def _dynamic_conflicts(placed: list[Placed]) -> tuple[list[Problem], set[frozenset[str]]]:
    """Sibling dynamic folders that match the same segments, in one physical folder: two
    params of one type (`[id]` beside `[user_id]`, `[a=int]` beside `[b=int]`), or two
    catch-alls. `[id=int]` beside `[slug]` is fine: typed segments are tried first."""
    children: dict[str, dict[str, str]] = defaultdict(dict)  # parent -> folder -> what it takes
    for p in placed:
        for parent, folder, takes in _dynamic_folders(p):
            children[parent].setdefault(folder, takes)
    problems: list[Problem] = []
    pairs: set[frozenset[str]] = set()
    for parent, kids in children.items():
        found, paired = _sibling_conflicts(parent, kids)
        problems += found
        pairs |= paired
    return problems, pairs


def _sibling_conflicts(parent: str, kids: dict[str, str]
                       ) -> tuple[list[Problem], set[frozenset[str]]]:
    """DYNAMIC_CONFLICT among the dynamic folders of one parent (folder -> what it takes)."""
    problems: list[Problem] = []
    pairs: set[frozenset[str]] = set()
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


# A route of a file as the collision rules see it: method, precedence key, path, line.
_Shape = tuple[str, Key, str, int]


def _shapes(p: Placed) -> list[_Shape]:
    return [(method, precedence_key(path), path, line)
            for method, line in p.file.handlers().items() for path, _, _ in p.shape.urls]


def _route_collisions(
    placed: list[tuple[Placed, list[_Shape]]], sibling_pairs: set[frozenset[str]]
) -> list[Problem]:
    """DUPLICATE_ROUTE (same method and URL) and AMBIGUOUS_ROUTE (same shape, other names)."""
    by_shape: dict[tuple[str, Key], list[_Entry]] = defaultdict(list)
    for p, shapes in placed:
        for method, key, path, line in shapes:
            by_shape[(method, key)].append((p, path, line))
    # Only a shape with two routes or more can collide.
    return [problem for (method, _), entries in by_shape.items() if len(entries) > 1
            for problem in _shape_collisions(method, entries, sibling_pairs)]


# A route of a placed file under one shape: the file, its path, its line.
_Entry = tuple[Placed, str, int]


def _shape_collisions(method: str, entries: Iterable[_Entry],
                      sibling_pairs: set[frozenset[str]]) -> list[Problem]:
    """The collisions among the routes of one method and one precedence key."""
    problems: list[Problem] = []
    ordered = sorted(entries, key=lambda e: (e[0].file.file, e[1]))
    for i, (a, path_a, _) in enumerate(ordered):
        for b, path_b, line_b in ordered[i + 1 :]:
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


def _operation_id_collisions(files: list[RouteFile], routes: list[RouteEntry]) -> list[Problem]:
    """An `@route(operation_id=...)` that another route already has: OpenAPI ids are unique,
    and client generators turn them into method names. `routes` in precedence order."""
    chosen = {(f.file, d.name): d for f in files for d in f.definitions if d.operation_id}
    if not chosen:  # only a chosen id can collide: the generated ones are unique
        return []
    owners: dict[str, RouteEntry] = {}
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


class _FileChecks(NamedTuple):
    """What the rules of one route file alone found (`Checked`), and what the rules
    between files read of it."""

    placed: Placed | None
    segments: dict[str, Problem]  # INVALID_SEGMENT, by folder
    problems: list[Problem]  # its own rules and its handlers'
    shadowed: list[Problem]  # SHADOWED_ROUTE: the app's pages against its URLs
    shapes: list[_Shape]
    dynamic: list[_Dynamic]
    # Its routes, by the layouts that apply to it (they change with the tree, not the file).
    routes: dict[tuple[str, ...], list[RouteEntry]]


def _routes(p: Placed, applied: tuple[str, ...]) -> list[RouteEntry]:
    """The table's records of one route file, with the layouts that apply to it."""
    return [RouteEntry(method, path, p.file.file, d.line, params, catchall, applied,
                       d.statuses)
            for method, d in p.file.functions().items()
            for path, params, catchall in p.shape.urls]


class _Between:
    """The rules between route files, kept in step with the tree file by file (`Checked`):
    each rule's problems by the group they come from (the route files of one folder, the
    dynamic folders of one parent, the routes of one method and precedence key), worked out
    again only for the groups a changed file is in, by the same functions the whole-table
    rules use. tests/test_dev_incremental.py holds it to a full validation's result."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, ...], set[str]] = {}  # folders -> its route files
        self.kids: dict[str, dict[str, list[Any]]] = {}  # parent -> folder -> [takes, files]
        self.shapes: dict[tuple[str, Key], list[_Entry]] = {}
        # The problems of each group that has some; the sibling pairs of each parent.
        self.conflicts: dict[tuple[str, ...], list[Problem]] = {}
        self.siblings: dict[str, tuple[list[Problem], set[frozenset[str]]]] = {}
        self.collisions: dict[tuple[str, Key], list[Problem]] = {}
        self.shared: set[tuple[str, Key]] = set()  # shapes with two routes or more
        self.pairs: set[frozenset[str]] = set()

    def update(self, removed: list[tuple[RouteFile, _FileChecks]],
               added: list[tuple[RouteFile, _FileChecks]]) -> None:
        folders: set[tuple[str, ...]] = set()
        parents: set[str] = set()
        shapes: set[tuple[str, Key]] = set()
        for file, checks in removed:
            folders.add(file.folders)
            self.files[file.folders].discard(file.file)
            placed = checks.placed
            if placed is None:
                continue
            for parent, folder, _ in checks.dynamic:
                parents.add(parent)
                kids = self.kids[parent]
                kids[folder][1] -= 1
                if not kids[folder][1]:
                    del kids[folder]
            for method, key, _, _ in checks.shapes:
                shapes.add((method, key))
                self.shapes[(method, key)] = [
                    e for e in self.shapes[(method, key)] if e[0] is not placed]
        for file, checks in added:
            folders.add(file.folders)
            self.files.setdefault(file.folders, set()).add(file.file)
            placed = checks.placed
            if placed is None:
                continue
            for parent, folder, takes in checks.dynamic:
                parents.add(parent)
                self.kids.setdefault(parent, {}).setdefault(folder, [takes, 0])[1] += 1
            for method, key, path, line in checks.shapes:
                shapes.add((method, key))
                self.shapes.setdefault((method, key), []).append((placed, path, line))
        for group in folders:
            paths = self.files[group]
            _keep(self.conflicts, group, _folder_conflicts(paths) if len(paths) > 1 else [])
            if not paths:
                del self.files[group]
        for parent in parents:
            kids = self.kids[parent]
            found = _sibling_conflicts(parent, {f: t for f, (t, _) in kids.items()})
            _keep(self.siblings, parent, found if found[0] else None)
            if not kids:
                del self.kids[parent]
        pairs = {pair for _, paired in self.siblings.values() for pair in paired}
        if pairs != self.pairs:  # AMBIGUOUS_ROUTE leaves out what DYNAMIC_CONFLICT says
            self.pairs = pairs
            shapes |= self.shared
        for shape in shapes:
            entries = self.shapes[shape]
            if len(entries) > 1:
                self.shared.add(shape)
                _keep(self.collisions, shape, _shape_collisions(shape[0], entries, pairs))
            else:
                self.shared.discard(shape)
                _keep(self.collisions, shape, [])
                if not entries:
                    del self.shapes[shape]

    def problems(self) -> list[Problem]:
        return [*(p for found in self.conflicts.values() for p in found),
                *(p for found, _ in self.siblings.values() for p in found),
                *(p for found in self.collisions.values() for p in found)]


def _keep(groups: dict[Any, Any], group: Any, found: Any) -> None:
    """A group's problems, kept only when it has some."""
    if found:
        groups[group] = found
    else:
        groups.pop(group, None)


class Checked:
    """What the rules of each route file alone found, kept while the file's facts are the
    same object (`scan.Facts` keeps them for a file that did not change) and the config and
    docs page are the same: `dev` checks again only the files a save changed, the rules
    between files only for the groups those files are in (`_Between`), and sorts into the
    last table only the routes that are new."""

    def __init__(self) -> None:
        self._by_file: dict[int, tuple[RouteFile, _FileChecks]] = {}
        self._for: tuple[Config, bool, frozenset[str]] | None = None
        self.names = portability.Checked()  # each folder's names checked
        self.between = _Between()
        self._table: list[RouteEntry] = []  # the last table, in precedence order

    def of(self, scan: Scan, config: Config) -> list[_FileChecks]:
        own = scan.own_types
        if self._for is None or self._for[0] is not config or self._for[1:] != (
                scan.docs_page, own):
            self._by_file, self._for = {}, (config, scan.docs_page, own)
            self.between, self._table = _Between(), []
        known = self._by_file
        handler_rules = _handler_rules(config.build.require_request)
        found: dict[int, tuple[RouteFile, _FileChecks]] = {}
        added: list[tuple[RouteFile, _FileChecks]] = []
        for file in scan.files:
            got = known.get(id(file))
            if got is None or got[0] is not file:
                got = (file, _check_file(scan.route_dir, file, handler_rules, config,
                                         scan.docs_page, own))
                added.append(got)
            found[id(file)] = got
        removed = [got for key, got in known.items() if found.get(key) is not got]
        self.between.update(removed, added)
        self._by_file = found  # the files of this scan only
        return [checks for _, checks in found.values()]

    def sort(self, routes: list[RouteEntry]) -> list[RouteEntry]:
        """`sort_routes(routes)`, made from the last table: the records that are not in it
        (the same objects: a file's records are kept while it and its layouts are) are put
        in place one by one, when they are few."""
        last = self._table
        before = {id(r) for r in last}
        new = [r for r in routes if id(r) not in before]
        if len(new) > len(routes) // 8 or len(routes) < 64:
            table = sort_routes(routes)
        else:
            now = {id(r) for r in routes}
            table = [r for r in last if id(r) in now]
            for r in sort_routes(new):
                bisect.insort(table, r, key=precedence)
        self._table = table
        return list(table)  # the caller's own: dev puts its kept records in it


def _check_file(route_dir: str, file: RouteFile, handler_rules: tuple[HandlerRule, ...],
                config: Config, docs_page: bool, own: frozenset[str]) -> _FileChecks:
    segments: dict[str, Problem] = {}
    placed = place(route_dir, file, segments, own)
    if placed is None:
        return _FileChecks(None, segments, [], [], [], [], {})
    return _FileChecks(placed, segments, _check_definitions(placed, handler_rules),
                       list(shadowed_routes([placed], config, docs_page)), _shapes(placed),
                       _dynamic_folders(placed), {})


def validate(scan: Scan, config: Config, checked: Checked | None = None
             ) -> tuple[list[RouteEntry], list[Problem]]:
    """Check the scanned tree; return the route table (precedence order) and every problem.
    `checked`: what the rules of each file found last time, reused for the same facts."""
    problems = list(scan.problems)
    problems.extend(check_portability(scan, checked.names if checked is not None else None))
    segment_problems: dict[str, Problem] = {}
    placed: list[Placed] = []
    shapes: list[list[_Shape]] = []
    made: list[dict[tuple[str, ...], list[RouteEntry]]] = []  # each file's routes, by layouts
    if checked is None:
        handler_rules = _handler_rules(config.build.require_request)
        for file in scan.files:
            p = place(scan.route_dir, file, segment_problems, scan.own_types)
            if p is not None:
                placed.append(p)
                problems.extend(_check_definitions(p, handler_rules))
                shapes.append(_shapes(p))
                made.append({})
        problems.extend(shadowed_routes(placed, config, scan.docs_page))
    else:
        for checks in checked.of(scan, config):
            for folder, problem in checks.segments.items():
                segment_problems.setdefault(folder, problem)
            if checks.placed is not None:
                placed.append(checks.placed)
                problems.extend(checks.problems)
                problems.extend(checks.shadowed)
                shapes.append(checks.shapes)
                made.append(checks.routes)
    problems.extend(segment_problems.values())
    if checked is None:
        problems.extend(_route_file_conflicts(scan.files))
        conflicts, sibling_pairs = _dynamic_conflicts(placed)
        problems.extend(conflicts)
        problems.extend(_route_collisions(list(zip(placed, shapes, strict=True)),
                                          sibling_pairs))
    else:
        problems.extend(checked.between.problems())
    for layout in scan.layouts:
        problems.extend(check_layout(layout))
    if scan.app is not None:
        problems.extend(check_app(scan.app))
    used = ({segment.type for p in placed for segment in p.shape.segments}
            if scan.params else set())  # dev: not a pass over every file for no types
    for params in scan.params:  # params/<name>.py (SPEC 14.1), checked as it was read
        problems.extend(params.problems_if(params.name in used))
    problems.extend(shadowed_files(placed, scan, config))

    by_folder = {layout.folders: layout.file for layout in scan.layouts}
    routes: list[RouteEntry] = []
    for p, known in zip(placed, made, strict=True):
        applied = (tuple(by_folder[f] for f in layouts_above(p.file.folders) if f in by_folder)
                   if by_folder else ())
        got = known.get(applied)
        if got is None:
            got = known[applied] = _routes(p, applied)
        routes += got
    routes = sort_routes(routes) if checked is None else checked.sort(routes)
    problems.extend(_operation_id_collisions(scan.files, routes))
    shown = {replace(p, file=printable(p.file), message=printable(p.message)) for p in problems}
    return routes, sorted(shown)
