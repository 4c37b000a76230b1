"""Two views of the route table for `fastapi-route routes`: JSON records for tools (`--json`)
and the URL tree for a reader's eye (`--tree`).

Pure functions of `table.RouteEntry` records (and the route folder's name, to read the folders a
file sits in), so they are tested without the CLI; the command only parses flags and prints.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .conventions import Piece, Template, shape_of
from .errors import printable
from .naming import operation_ids
from .table import RouteEntry, sort_routes

# --- --json -------------------------------------------------------------------------------


def records(routes: Iterable[RouteEntry]) -> list[dict[str, Any]]:
    """One JSON-ready dict per route, in precedence order, keys always in the same order."""
    ordered = sort_routes(routes)
    # The ids the app generates (same routes, same order); an @route(operation_id=...) is in
    # the route file, not the table.
    ids = operation_ids(ordered)
    return [
        {
            "method": r.method,
            "label": r.label,
            "path": r.path,
            "openapi_path": r.template.openapi_path,
            "file": r.file,
            "line": r.line,
            "params": [{"name": name, "type": kind.name} for name, kind in r.template.params],
            "catchall": r.catchall,
            "layouts": list(r.layouts),
            "operation_id": ids.get(r),  # None (null) for a websocket
        }
        for r in ordered
    ]


def to_json(routes: Iterable[RouteEntry]) -> str:
    """The route table for tools: a JSON list, see `records`."""
    return json.dumps(records(routes), indent=2)


# --- --tree -------------------------------------------------------------------------------

BOX = ("├── ", "└── ", "│   ", "    ")  # a child, the last child, a line going on, none
ASCII = ("|-- ", "`-- ", "|   ", "    ")  # when the terminal's encoding has no box drawing


@dataclass
class Node:
    """One URL segment of the tree: the routes that end here, the layouts whose folder is
    here, and the segments below."""

    piece: str  # as in the FastAPI template: users, {user_id}, {path:path}; "/" for the root
    routes: list[RouteEntry] = field(default_factory=list)
    layouts: list[tuple[str, ...]] = field(default_factory=list)  # each one's groups
    children: dict[str, Node] = field(default_factory=dict)
    key: tuple[int, str] = (0, "")  # the piece's place in precedence order

    def at(self, pieces: Sequence[Piece]) -> Node:
        """The node below this one for `pieces`, made on the way when missing."""
        node = self
        for piece in pieces:
            node = node.children.setdefault(piece.text, Node(piece.text, key=piece.key))
        return node

    def ordered_children(self) -> list[Node]:
        """Precedence order: static names (sorted), then parameters, then catch-alls."""
        return sorted(self.children.values(), key=lambda n: (n.key, n.piece))


def _folders(file: str, route_dir: str) -> tuple[str, ...]:
    """The folders below the route folder that hold `file` (a path from the project root)."""
    parent = PurePosixPath(file).parent
    try:
        return parent.relative_to(route_dir).parts
    except ValueError:  # not below the route folder: read the whole path
        return parent.parts


def groups_of(file: str, route_dir: str) -> tuple[str, ...]:
    """The `(group)` folders a route file or layout is reached through, outermost first."""
    shape, _ = shape_of(_folders(file, route_dir), None)  # a checked table: any type
    return shape.groups if shape is not None else ()


def url_tree(routes: Iterable[RouteEntry], route_dir: str) -> Node:
    """The URL tree of the table: each route at its template's node, each layout (any route
    applies) at the node of its folder's URL."""
    ordered = sort_routes(routes)
    root = Node("/")
    for r in ordered:
        root.at(r.template.pieces).routes.append(r)
    for layout in sorted({file for r in ordered for file in r.layouts}):
        shape, _ = shape_of(_folders(layout, route_dir), None)
        if shape is not None:
            root.at(Template.parse(shape.path).pieces).layouts.append(shape.groups)
    return root


def _groups_text(groups: Sequence[str]) -> str:
    return "/".join(f"({g})" for g in groups)


def _layout_marks(node: Node) -> str:
    """`[layout]` for the _layout.py of this URL's folder, `[layout (admin)]` for the one in a
    group's folder at this URL (it covers that group's routes only)."""
    marks = [
        f"[layout {_groups_text(groups)}]" if groups else "[layout]"
        for groups in sorted(node.layouts, key=lambda g: (len(g), g))
    ]
    return " ".join(marks)


def _codec(encoding: str | None) -> str:
    """The codec for a stream's encoding; ASCII when it is unknown or unsaid."""
    try:
        return codecs.lookup(encoding or "ascii").name
    except LookupError:
        return "ascii"


def can_draw_boxes(encoding: str | None) -> bool:
    """Whether text in `encoding` can hold the box-drawing characters (not ASCII, latin-1)."""
    try:
        "".join(BOX).encode(_codec(encoding))
    except UnicodeEncodeError:
        return False
    return True


def _rows(node: Node, route_dir: str, lead: str, below: str,
          glyphs: Sequence[str]) -> Iterator[tuple[str, str, str, str]]:
    """(label, methods, file, groups) per line: one per file serving this URL (methods of
    one path may come from route files in different groups), then the children's."""
    tee, last, bar, blank = glyphs
    children = node.ordered_children()
    marks = _layout_marks(node)
    label = f"{lead}{node.piece} {marks}" if marks else f"{lead}{node.piece}"
    by_file: dict[str, list[RouteEntry]] = {}
    for r in node.routes:
        by_file.setdefault(r.file, []).append(r)
    if not by_file:
        yield label, "", "", ""
    for i, (file, served) in enumerate(by_file.items()):
        methods = " ".join(r.label for r in served)
        groups = _groups_text(groups_of(file, route_dir))
        yield (label if i == 0 else below + (bar if children else blank)), methods, file, groups
    for i, child in enumerate(children):
        end = i == len(children) - 1
        yield from _rows(child, route_dir, below + (last if end else tee),
                         below + (blank if end else bar), glyphs)


def render_tree(routes: Iterable[RouteEntry], route_dir: str, *, encoding: str | None = "utf-8"
                ) -> str:
    """The URL tree as a terminal tree, one line per URL segment in precedence order:

        / [layout]         GET             routes/index.py
        ├── login          POST            routes/(auth)/login/route.py  (auth)
        └── users          GET POST        routes/users/route.py
            └── {user_id}  GET PUT DELETE  routes/users/[user_id]/route.py

    Each line shows the methods served at that URL (WS: the websocket) and the file; a route
    reached through `(group)` folders names them last; `[layout]` marks the URL whose folder
    holds a `_layout.py` (`[layout (admin)]`: the one in the `(admin)` group's folder there).
    Box-drawing characters when `encoding` holds them, else ASCII; anything else `encoding`
    cannot hold (or no terminal should print) is escaped.
    """
    glyphs = BOX if can_draw_boxes(encoding) else ASCII
    target = _codec(encoding)

    def safe(text: str) -> str:
        return printable(text).encode(target, "backslashreplace").decode(target)

    rows = [tuple(map(safe, row)) for row in
            _rows(url_tree(routes, route_dir), route_dir, "", "", glyphs)]
    label_width = max(len(row[0]) for row in rows) + 2
    method_width = max(len(row[1]) for row in rows) + 2
    lines = [
        f"{label:<{label_width}}{methods:<{method_width}}{file}  {groups}".rstrip()
        for label, methods, file, groups in rows
    ]
    return "\n".join(lines)

