"""Walk routes/ and read each route file with `ast`: facts only, no user code runs.

The walk follows symlinked folders but remembers the folders above it, so a link back up the
tree is reported as CIRCULAR_GROUP instead of looping. Facts go to `validate`, which decides.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..conventions import HTTP_METHODS, ROUTE_FILES, is_skipped_dir
from ..errors import Problem


@dataclass(frozen=True)
class Definition:
    """A module-level binding of an HTTP method name in a route file."""

    name: str
    line: int
    is_function: bool
    params: tuple[str, ...] = ()  # every named parameter, positional or keyword
    positional_only: tuple[str, ...] = ()  # before `/`: FastAPI passes arguments by name
    variadic: tuple[str, ...] = ()  # `*args` / `**kwargs`, written as such


@dataclass(frozen=True)
class RouteFile:
    file: str  # posix, relative to the project root
    folders: tuple[str, ...]  # folder names from the route dir down to the file
    definitions: tuple[Definition, ...] = ()
    lowercase_methods: tuple[str, ...] = ()  # `def get(...)`: worth a warning, not a route

    def handlers(self) -> dict[str, int]:
        """Each method defined as a function here, at its first definition's line."""
        found: dict[str, int] = {}
        for d in self.definitions:
            if d.is_function:
                found.setdefault(d.name, d.line)
        return found


@dataclass
class Scan:
    route_dir: str
    files: list[RouteFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _selected(rel_to_routes: str, config: Config) -> bool:
    include = config.build.include_patterns
    if include and not any(fnmatch.fnmatchcase(rel_to_routes, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(rel_to_routes, p) for p in config.build.exclude_patterns)


def walk_route_files(
    root: Path, config: Config
) -> tuple[list[tuple[str, tuple[str, ...]]], list[Problem]]:
    """Every route file as (path relative to root, folder names below the route dir), sorted.

    `run` repeats only this walk (no parse) and compares it with the manifest's route_files to
    tell whether the cache is stale; `status` also parses and compares the fingerprint.
    """
    base = root / config.route_dir
    found: list[tuple[str, tuple[str, ...]]] = []
    problems: list[Problem] = []
    if not base.is_dir():
        problems.append(
            Problem(
                config.route_dir, 0, "NO_ROUTE_DIR", f"there is no '{config.route_dir}' folder",
                "create it (fastapi-route init makes one) or set route_dir in config.py",
            )
        )
        return found, problems
    route_dir = Path(config.route_dir).as_posix()

    def rel(*names: str) -> str:  # string joins: `run` walks the tree at every start
        return "/".join((route_dir, *names))

    # Each entry: folder path, folder names below base, real paths of the folders above it
    # (a real path changes only through a symlink, so only links cost a realpath call).
    base_real = os.path.realpath(base)
    stack: list[tuple[str, tuple[str, ...], str, frozenset[str]]] = [
        (str(base), (), base_real, frozenset({base_real}))
    ]
    while stack:
        folder, parts, folder_real, ancestors = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append(
                Problem(rel(*parts), 0, "SCAN_ERROR", f"cannot read folder: {exc.strerror}",
                        "check the folder's permissions")
            )
            continue
        subfolders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows symlinks
                is_file = not is_dir and entry.is_file()
                is_link = is_dir and entry.is_symlink()
            except OSError:
                is_dir = is_file = is_link = False
            if is_dir and not is_skipped_dir(entry.name):
                real = os.path.realpath(entry.path) if is_link else f"{folder_real}/{entry.name}"
                if real in ancestors:
                    problems.append(
                        Problem(
                            rel(*parts, entry.name), 0, "CIRCULAR_GROUP",
                            "this folder links back to a folder above it, a loop with no end",
                            "remove the symlink or point it outside its own parents",
                        )
                    )
                    continue
                subfolders.append((entry.path, (*parts, entry.name), real, ancestors | {real}))
            elif is_file and entry.name in ROUTE_FILES:
                rel_to_routes = "/".join((*parts, entry.name))
                if _selected(rel_to_routes, config):
                    found.append((rel(*parts, entry.name), parts))
        stack.extend(reversed(subfolders))
    found.sort()
    return found, problems


def _definition(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Definition:
    args = node.args
    variadic = []
    if args.vararg is not None:
        variadic.append(f"*{args.vararg.arg}")
    if args.kwarg is not None:
        variadic.append(f"**{args.kwarg.arg}")
    return Definition(
        node.name, node.lineno, True,
        tuple(a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)),
        tuple(a.arg for a in args.posonlyargs),
        tuple(variadic),
    )


def _bound_names(node: ast.stmt) -> list[str]:
    """Names a non-def statement binds at module level (assignments, imports, classes)."""
    if isinstance(node, ast.ClassDef):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and (
        not isinstance(node, ast.AnnAssign) or node.value is not None
    ):
        targets = [node.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


# Python 3.10's parser has no depth guard: a few hundred thousand levels of nesting (`a.b.b...`)
# overflow the C stack and kill the process. Below this size no source nests deep enough
# (measured: 64 KiB of the densest nesting parses, or raises MemoryError), so only larger files
# are first parsed in a child process, where a crash costs nothing but a problem report.
UNGUARDED_PARSER_LIMIT = 64 * 1024 if sys.version_info < (3, 11) else None


def _crashes_the_parser(source: bytes) -> bool:
    check = "import ast, sys; compile(ast.parse(sys.stdin.buffer.read()), '-', 'exec')"
    result = subprocess.run([sys.executable, "-c", check], input=source,
                            capture_output=True, check=False)
    return result.returncode < 0  # killed by a signal; a SyntaxError is reported below


def read_route_file(path: Path, rel: str, folders: tuple[str, ...]) -> RouteFile | Problem:
    """Parse one route file; a file Python cannot parse becomes a SYNTAX_ERROR problem."""
    try:
        source = path.read_bytes()
        if (UNGUARDED_PARSER_LIMIT is not None and len(source) > UNGUARDED_PARSER_LIMIT
                and _crashes_the_parser(source)):
            raise RecursionError
        tree = ast.parse(source, filename=rel)
        # The compiler's own checks (duplicate arguments, `return` or `await` outside a
        # function, ...) that the parser leaves to import time; compiling runs nothing.
        compile(tree, rel, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return Problem(rel, exc.lineno or 1, "SYNTAX_ERROR", f"invalid Python: {exc.msg}",
                       "fix the syntax; nothing in this file is served until then")
    except (RecursionError, MemoryError):  # the parser's stack: `x = ----...1`, `a.b.b...`
        return Problem(rel, 1, "SYNTAX_ERROR", "too deeply nested for Python to parse",
                       "split the nested expression into smaller statements")
    except (ValueError, OSError) as exc:  # null bytes, unreadable file
        return Problem(rel, 1, "SYNTAX_ERROR", f"cannot read this file as Python: {exc}",
                       "save it as UTF-8 Python source")
    definitions: list[Definition] = []
    lowercase: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in HTTP_METHODS:
                definitions.append(_definition(node))
            elif node.name.upper() in HTTP_METHODS:
                lowercase.append(node.name)
            continue
        for name in _bound_names(node):
            if name in HTTP_METHODS:
                definitions.append(Definition(name, node.lineno, False))
    return RouteFile(rel, folders, tuple(definitions), tuple(lowercase))


# Called after each route file is read with (files read, files found), so that a caller can
# show the progress of a long scan.
FileCallback = Callable[[int, int], None]


def scan(root: Path, config: Config, *, on_file: FileCallback | None = None) -> Scan:
    """Walk the route dir and read every route file. Never imports or runs them."""
    result = Scan(config.route_dir)
    files, result.problems = walk_route_files(root, config)
    for done, (rel, folders) in enumerate(files, 1):
        read = read_route_file(root / rel, rel, folders)
        if isinstance(read, Problem):
            result.problems.append(read)
        else:
            result.files.append(read)
        if on_file is not None:
            on_file(done, len(files))
    return result
