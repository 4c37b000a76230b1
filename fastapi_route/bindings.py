"""The names a module binds at its top level, read from its `ast` (nothing runs).

Top level includes the blocks of top-level `if`, `try`, `with`, `for`, `while` and `match`
statements (a setting is often chosen by an `if`), but not function or class bodies. The scan
reads layouts, app.py and route files with it; config.py's loader, the line of each setting.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Binding:
    """A name a module binds at its top level."""

    name: str
    line: int
    kind: str  # "function", "class", "import" or "value"
    is_async: bool = False
    positional: int = 0  # a function's parameters that can be passed by position


def bound_names(node: ast.stmt) -> list[str]:
    """The names one statement binds itself (not in its blocks): a def or class, an import
    (`import a.b` binds `a`; `*` binds no name one can know), the targets of an assignment
    with a value, of a `for` and of a `with ... as`."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor)) or (
        isinstance(node, ast.AnnAssign) and node.value is not None  # `x: int` binds nothing
    ):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _blocks(node: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists inside a compound statement that still run at module level, in
    file order."""
    body = getattr(node, "body", None)
    if isinstance(body, list):
        yield body
    for handler in getattr(node, "handlers", ()):  # try: except
        yield handler.body
    for case in getattr(node, "cases", ()):  # match: case
        yield case.body
    for name in ("orelse", "finalbody"):
        yield getattr(node, name, [])


def top_level_bindings(statements: list[ast.stmt]) -> list[Binding]:
    """Every top-level binding of a module's body, in file order."""
    found: list[Binding] = []
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            found.append(Binding(node.name, node.lineno, "function",
                                 isinstance(node, ast.AsyncFunctionDef),
                                 len(args.posonlyargs) + len(args.args)))
        elif isinstance(node, ast.ClassDef):
            found.append(Binding(node.name, node.lineno, "class"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.extend(Binding(name, node.lineno, "import") for name in bound_names(node))
        else:
            found.extend(Binding(name, node.lineno, "value") for name in bound_names(node))
            for block in _blocks(node):
                found.extend(top_level_bindings(block))
    return found
