"""The names a module binds at its top level, read from its `ast` (nothing runs).

Top level includes the blocks of top-level `if`, `try`, `with`, `for`, `while` and `match`
statements (a setting is often chosen by an `if`), but not function or class bodies. The scan
reads layouts, app.py and route files with it; config.py's loader, the line of each setting.
An assignment also records the *shape* of its value (`Value`), so that the build can judge a
literal (`tags = "api"`) without running anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

# What a literal is, as `Value.kind`; anything else (a name, a call, an operation...) is
# "other": only running the module could tell what it is.
LITERAL_KINDS = frozenset({
    "str", "bytes", "int", "float", "complex", "bool", "none", "ellipsis",
    "list", "tuple", "set", "dict", "lambda",
})
_CONSTANTS: tuple[tuple[type, str], ...] = (  # bool before int: True is an int
    (bool, "bool"), (int, "int"), (float, "float"), (complex, "complex"), (str, "str"),
    (bytes, "bytes"), (type(None), "none"), (type(...), "ellipsis"),
)
_SOURCE_LIMIT = 60  # characters of a value's source shown in a message


@dataclass(frozen=True)
class Value:
    """The shape of an expression as its AST shows it: a literal's kind, and for a list,
    tuple or set its items, for a dict its keys and values. `source` is how it is written
    (shortened), for messages."""

    kind: str  # one of LITERAL_KINDS, or "other"
    source: str = ""
    items: tuple[Value, ...] = ()  # a list's, tuple's or set's elements; a dict's values
    keys: tuple[Value, ...] = ()  # a dict's keys, one per value

    @property
    def is_literal(self) -> bool:
        return self.kind in LITERAL_KINDS

    @property
    def is_sequence(self) -> bool:
        """A list or tuple literal (what APIRouter and FastAPI take for their lists)."""
        return self.kind in ("list", "tuple")


def _source(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= _SOURCE_LIMIT else text[: _SOURCE_LIMIT - 3] + "..."


def value_of(node: ast.expr) -> Value:
    """The shape of one expression; a `*x` in a list or a `**x` in a dict is "other" (its
    items are not known)."""
    source = _source(node)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
            and isinstance(node.operand, ast.Constant):
        node = node.operand  # -1, +2.5: still a number
    if isinstance(node, ast.Constant):
        kind = next((k for t, k in _CONSTANTS if isinstance(node.value, t)), "other")
        return Value(kind, source)
    if isinstance(node, ast.JoinedStr):  # f"..."
        return Value("str", source)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        kind = {ast.List: "list", ast.Tuple: "tuple", ast.Set: "set"}[type(node)]
        return Value(kind, source, tuple(value_of(e) for e in node.elts))
    if isinstance(node, ast.Dict):
        spread = Value("other")  # `**x`: neither key nor value is one
        keys = tuple(spread if k is None else value_of(k) for k in node.keys)
        values = tuple(spread if k is None else value_of(v)
                       for k, v in zip(node.keys, node.values, strict=True))
        return Value("dict", source, values, keys)
    if isinstance(node, ast.Lambda):
        return Value("lambda", source)
    return Value("other", source)


@dataclass(frozen=True)
class Binding:
    """A name a module binds at its top level."""

    name: str
    line: int
    kind: str  # "function", "class", "import" or "value"
    is_async: bool = False
    positional: int = 0  # a function's parameters that can be passed by position
    value: Value | None = None  # a value's shape, when the name is assigned it directly


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


def _assigned(node: ast.stmt) -> Value | None:
    """The shape of what `name = ...` (or `name: T = ...`) gives its names; None for any other
    binding (`a, b = ...`, `x += ...`, a `for` or `with` target), which the build cannot
    judge."""
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        return value_of(node.value)
    if (isinstance(node, ast.AnnAssign) and node.value is not None
            and isinstance(node.target, ast.Name)):
        return value_of(node.value)
    return None


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
            value = _assigned(node)
            found.extend(Binding(name, node.lineno, "value", value=value)
                         for name in bound_names(node))
            for block in _blocks(node):
                found.extend(top_level_bindings(block))
    return found
