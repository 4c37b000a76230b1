"""The rules a route tree must keep, applied to the scan's facts; every problem in one run."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from ..config import Config
from ..conventions import (
    WEBSOCKET,
    SegmentKind,
    Shape,
    layouts_above,
    path_pieces,
    piece_rank,
    precedence_key,
    printable,
    shape_of,
)
from ..errors import Problem
from ..naming import operation_ids
from ..table import Route, sort_routes
from .declarations import check_app, check_layout
from .scan import RouteFile, Scan


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


def _check_definitions(placed: _Placed, require_request: bool) -> list[Problem]:
    problems: list[Problem] = []
    rel = placed.file.file
    by_name: dict[str, list[int]] = defaultdict(list)
    for d in placed.file.definitions:
        by_name[d.name].append(d.line)
    for name, lines in by_name.items():
        if len(lines) > 1:
            where = ", ".join(str(n) for n in lines)
            problems.append(
                Problem(
                    rel, lines[1], "DUPLICATE_METHOD",
                    f"{name} is defined {len(lines)} times (lines {where}); only one can serve",
                    f"keep one {name} handler and remove or rename the others",
                )
            )
    for d in placed.file.definitions:
        if not d.is_function:
            problems.append(
                Problem(
                    rel, d.line, "INVALID_HANDLER",
                    f"{d.name} is bound here but not defined as a function in this file",
                    f"define it in place: def {d.name}(request, ...): ...",
                )
            )
            continue
        missing = [p for p in placed.shape.params if p not in d.params]
        if missing:
            names = ", ".join(missing)
            problems.append(
                Problem(
                    rel, d.line, "INVALID_HANDLER",
                    f"{d.name} has no parameter for the path parameter(s) {names} of its folders",
                    f"add them to the signature, e.g. def {d.name}(request, {names}): ...",
                )
            )
        if d.positional_only:
            names = ", ".join(d.positional_only)
            problems.append(
                Problem(
                    rel, d.line, "INVALID_HANDLER",
                    f"{d.name} has positional-only parameter(s) {names}, but FastAPI passes "
                    "every argument by name, so each request would fail",
                    f"remove the '/' from the signature of {d.name}",
                )
            )
        if d.variadic:
            names = ", ".join(d.variadic)
            problems.append(
                Problem(
                    rel, d.line, "INVALID_HANDLER",
                    f"{d.name} takes {names}, which FastAPI would read as required query "
                    "parameters of those names, so each request would fail",
                    f"name every parameter of {d.name} explicitly",
                )
            )
        if d.name == WEBSOCKET and not d.is_async:
            problems.append(
                Problem(
                    rel, d.line, "INVALID_HANDLER",
                    "WEBSOCKET is a plain def, but a websocket handler awaits every message",
                    "write async def WEBSOCKET(websocket, ...): ...",
                )
            )
        first = "websocket" if d.name == WEBSOCKET else "request"
        if require_request and first not in d.params:
            problems.append(
                Problem(
                    rel, d.line, "INVALID_HANDLER", f"{d.name} has no '{first}' parameter",
                    f"write def {d.name}({first}, ...), or set build = "
                    "{'require_request': False} in config.py",
                )
            )
    if not placed.file.definitions:
        found = ", ".join(placed.file.lowercase_methods)
        problems.append(
            Problem(
                rel, 0, "NO_HANDLER", "this route file defines no handler, so it serves nothing",
                (f"handler names are upper case: found {found}, write " + found.upper())
                if found else "define a module-level GET, POST, PUT, PATCH or DELETE function",
                warning=True,
            )
        )
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
    pieces = []
    for piece in path_pieces(path):
        rank = piece_rank(piece)
        pieces.append(piece if rank == 0 else ("1" if rank == 1 else "a/b"))
    return "/" + "/".join(pieces)


def _dynamic_conflicts(placed: list[_Placed]) -> tuple[list[Problem], set[frozenset[str]]]:
    """Sibling dynamic folders of one kind with different names in one physical folder."""
    children: dict[str, dict[tuple[SegmentKind, str], str]] = defaultdict(dict)
    for p in placed:
        dynamic = [s for s in p.shape.segments if s.kind is not SegmentKind.GROUP]
        for segment, folder in zip(dynamic, p.folders, strict=True):
            if segment.is_dynamic:
                parent = folder.rsplit("/", 1)[0]
                children[parent].setdefault((segment.kind, segment.name), folder)
    problems: list[Problem] = []
    pairs: set[frozenset[str]] = set()
    for parent, kids in sorted(children.items()):
        for kind in (SegmentKind.PARAM, SegmentKind.CATCHALL):
            folders = sorted(f for (k, _), f in kids.items() if k is kind)
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
    by_shape: dict[Key, list[tuple[_Placed, int]]] = defaultdict(list)
    for p in placed:
        for method, line in p.file.handlers().items():
            by_shape[(method, precedence_key(p.path))].append((p, line))
    for (method, _), entries in sorted(by_shape.items(), key=lambda kv: str(kv[0])):
        entries.sort(key=lambda e: e[0].file.file)
        for i, (a, _) in enumerate(entries):
            for b, line_b in entries[i + 1 :]:
                if a.path == b.path:
                    problems.append(
                        Problem(
                            b.file.file, line_b, "DUPLICATE_ROUTE",
                            f"{method} {a.path} is also served by {a.file.file}",
                            "route groups vanish from the URL; keep one of the two handlers",
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
                        f"{method} {_example_url(a.path)} matches both {a.path} "
                        f"({a.file.file}) and {b.path}, with no precedence to choose",
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


def validate(scan: Scan, config: Config) -> tuple[list[Route], list[Problem]]:
    """Check the scanned tree; return the route table (precedence order) and every problem."""
    problems = list(scan.problems)
    segment_problems: dict[str, Problem] = {}
    placed: list[_Placed] = []
    for file in scan.files:
        p = _place(scan.route_dir, file, segment_problems)
        if p is not None:
            placed.append(p)
            problems.extend(_check_definitions(p, config.build.require_request))
    problems.extend(segment_problems.values())
    problems.extend(_route_file_conflicts(scan.files))
    conflicts, sibling_pairs = _dynamic_conflicts(placed)
    problems.extend(conflicts)
    problems.extend(_route_collisions(placed, sibling_pairs))
    for layout in scan.layouts:
        problems.extend(check_layout(layout))
    if scan.app is not None:
        problems.extend(check_app(scan.app))

    by_folder = {layout.folders: layout.file for layout in scan.layouts}
    routes: list[Route] = []
    for p in placed:
        applied = tuple(by_folder[f] for f in layouts_above(p.file.folders) if f in by_folder)
        for method, line in p.file.handlers().items():
            routes.append(Route(method, p.path, p.file.file, line, p.shape.params,
                                p.shape.catchall, applied))
    routes = sort_routes(routes)
    problems.extend(_operation_id_collisions(scan.files, routes))
    shown = {replace(p, file=printable(p.file), message=printable(p.message)) for p in problems}
    return routes, sorted(shown)
