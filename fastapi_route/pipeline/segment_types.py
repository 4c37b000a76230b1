"""`params/<name>.py`: a project's own segment types (SPEC 14.1), read with `ast` (nothing
runs) and checked.

A file `params/hex.py` beside the route folder makes `[color=hex]` a segment type. It must
define `def match(value)` (one parameter), and may set `pattern` (a regular expression the
whole segment must match before `match` is asked; also OpenAPI's) and `description` (OpenAPI's)
as string literals: the build reads them without importing the file, and the runtime imports it
with the routes (`runtime/segment_types.py`). Files starting with `_` and `__init__.py` are the
folder's helpers, not types.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..bindings import bound_names
from ..conventions import BUILTIN_TYPES, PARAMS_DIR, is_own_type_name, params_file, params_type
from ..errors import Problem

CODE = "INVALID_SEGMENT"  # SPEC 14.1: a type that cannot be is a segment that cannot be
_EXAMPLE = "def match(value: str) -> bool:\n    return ..."


@dataclass(frozen=True)
class ParamsFile:
    """What one params file says, as facts, and what is wrong with it."""

    file: str  # posix, relative to the project root
    name: str  # the type's name: the file's stem
    digest: str = ""  # of the bytes read (`digest.digest`)
    # What the build derives from it (line numbers left out): `freshness` compares these.
    pattern: str | None = None
    description: str | None = None
    match_params: int | None = None  # the parameters of `def match`; None: no such def
    problems: tuple[Problem, ...] = field(default=(), compare=False)
    # Of those, what is wrong with the file's name (a built-in's, not an identifier): said
    # even when no folder uses it. The rest only when one does (`problems_if`).
    naming: tuple[Problem, ...] = field(default=(), compare=False)

    def problems_if(self, used: bool) -> tuple[Problem, ...]:
        """What to report: a file no folder uses is not a type yet (a helper module kept in
        params/ builds as it did before SPEC 14.1), so only its name is checked."""
        return self.problems if used else self.naming

    @property
    def facts(self) -> str:
        return repr((self.name, self.pattern, self.description, self.match_params))


def listed(root: Path) -> list[str]:
    """The params files of a project, relative to its root, sorted (name order: the order two
    types at one place are tried in)."""
    folder = root / PARAMS_DIR
    if not folder.is_dir():  # most projects: a stat, not a listing (test_one_walk)
        return []
    try:
        entries = list(os.scandir(folder))
    except OSError:  # gone meanwhile, or unreadable
        return []
    return sorted(params_file(e.name.removesuffix(".py")) for e in entries
                  if e.name.endswith(".py") and not e.name.startswith(("_", "."))
                  and e.is_file())


def own_names(files: list[ParamsFile]) -> frozenset[str]:
    """The type names a folder may use: every params file that can name a type, right or not
    (a wrong one is reported at the file, not again at each folder using it)."""
    return frozenset(f.name for f in files if is_own_type_name(f.name))


def _problem(rel: str, line: int, message: str, hint: str) -> Problem:
    return Problem(rel, line, CODE, message, hint)


def _string(rel: str, node: ast.stmt, name: str, value: ast.expr | None,
            problems: list[Problem]) -> str | None:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    problems.append(_problem(
        rel, node.lineno, f"{name} must be a string literal: the build reads it without "
        "running the file", f'write it as {name} = "..."'))
    return None


def read(tree: ast.Module, rel: str, digest: str) -> ParamsFile:
    """The facts of a parsed params file, and every rule it breaks."""
    name = params_type(rel) or rel
    problems: list[Problem] = []
    if name in BUILTIN_TYPES:
        problems.append(_problem(
            rel, 1, f"{name!r} is a built-in segment type: a project cannot redefine it",
            f"rename the file (e.g. {PARAMS_DIR}/my_{name}.py) and the folders using it"))
    elif not is_own_type_name(name):
        problems.append(_problem(
            rel, 1, f"{name!r} cannot name a segment type: [x={name}] needs an ASCII Python "
            "identifier that is not a keyword", f"rename the file, e.g. {PARAMS_DIR}/hex.py"))
    naming = tuple(problems)
    pattern: str | None = None
    description: str | None = None
    match_params: int | None = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "match":
            args = node.args
            match_params = (len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
                            + (args.vararg is not None) + (args.kwarg is not None))
            if isinstance(node, ast.AsyncFunctionDef):
                problems.append(_problem(
                    rel, node.lineno, "match is async, but routing asks it for each request "
                    "without awaiting", _EXAMPLE))
            elif match_params != 1 or args.vararg or args.kwarg or args.kwonlyargs:
                problems.append(_problem(
                    rel, node.lineno, f"match takes {match_params} parameters; it is called "
                    "with the URL segment alone", _EXAMPLE))
            continue
        value: ast.expr | None = None
        targets: list[str] = bound_names(node)
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            value = node.value
        if "match" in targets:
            problems.append(_problem(
                rel, node.lineno, "match is bound here but not defined as a function in "
                "this file", _EXAMPLE))
        if "pattern" in targets:
            pattern = _string(rel, node, "pattern", value, problems)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(_problem(
                        rel, node.lineno, f"pattern is not a regular expression: {exc}",
                        "write a Python regular expression for one URL segment, e.g. "
                        "'[0-9a-f]{6}'"))
                    pattern = None
        if "description" in targets:
            description = _string(rel, node, "description", value, problems)
    if match_params is None and not any("match" in p.message for p in problems):
        problems.append(_problem(
            rel, 1, f"{rel} defines no function match(value), which decides what "
            f"[x={name}] takes", _EXAMPLE))
    return ParamsFile(rel, name, digest, pattern, description, match_params, tuple(problems),
                      naming)
