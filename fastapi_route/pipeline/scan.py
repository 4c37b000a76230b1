"""Walk routes/ and read each route file, layout and app.py with `ast`: facts only, no user
code runs.

The walk follows symlinked folders but remembers the folders above it, so a link back up the
tree is reported as CIRCULAR_GROUP instead of looping. It is the only walk of the tree: it
also lists every name below the route and static folders, for the portability check. Facts go
to `validate`, which decides.

A file or folder that was listed but is gone when it is read (deleted or renamed meanwhile)
is not a problem of the tree: the tree changed while it was read. `scan` then raises
TreeChanged, for the caller to scan again (`dev` does, a few times) or to say so.
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..bindings import Binding, bound_names, top_level_bindings
from ..config import Config
from ..conventions import (
    APP_FILE,
    DOCS_FILE,
    HANDLER_NAMES,
    LAYOUT_FILE,
    ROUTE_FILES,
    is_skipped_dir,
)
from ..errors import FastAPIRouteError, Problem


@dataclass(frozen=True)
class Definition:
    """A module-level binding of an HTTP method name in a route file."""

    name: str
    line: int
    is_function: bool
    params: tuple[str, ...] = ()  # every named parameter, positional or keyword
    is_async: bool = False
    positional_only: tuple[str, ...] = ()  # before `/`: FastAPI passes arguments by name
    variadic: tuple[str, ...] = ()  # `*args` / `**kwargs`, written as such
    operation_id: str | None = None  # given as a literal: @route(operation_id="...")
    annotations: tuple[tuple[str, str], ...] = ()  # (parameter, its annotation's source)
    # The statuses its returns show (see `returned_statuses`), sorted; () when they show
    # nothing but FastAPI's default 200, or the function has a return annotation.
    statuses: tuple[int, ...] = ()


@dataclass(frozen=True)
class RouteFile:
    file: str  # posix, relative to the project root
    folders: tuple[str, ...]  # folder names from the route dir down to the file
    definitions: tuple[Definition, ...] = ()
    lowercase_methods: tuple[str, ...] = ()  # `def get(...)`: worth a warning, not a route
    digest: str = ""  # of the bytes these facts were read from (`digest`)

    def handlers(self) -> dict[str, int]:
        """Each method defined as a function here, at its first definition's line."""
        return {method: d.line for method, d in self.functions().items()}

    def functions(self) -> dict[str, Definition]:
        """Each method defined as a function here: its first definition (the one served)."""
        found: dict[str, Definition] = {}
        for d in self.definitions:
            if d.is_function:
                found.setdefault(d.name, d)
        return found


@dataclass(frozen=True)
class Declarations:
    """What a `_layout.py` or `app.py` declares: its top-level names, in file order."""

    file: str  # posix, relative to the project root
    folders: tuple[str, ...]  # folder names from the route dir down to it (layouts)
    bindings: tuple[Binding, ...] = ()
    digest: str = ""  # of the bytes these facts were read from (`digest`)


@dataclass
class Scan:
    route_dir: str
    files: list[RouteFile] = field(default_factory=list)
    layouts: list[Declarations] = field(default_factory=list)  # outer folders first
    app: Declarations | None = None
    problems: list[Problem] = field(default_factory=list)
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # Walk.names: portability
    docs_page: bool = False  # docs.py exists: its page, not Swagger UI, is at /docs


@dataclass(frozen=True, order=True)
class Vanished(Problem):
    """A file the walk listed but gone when it was read: no fault of the tree. A Problem in
    type only, so that a reader that sets problems aside (`freshness`) needs no change;
    `scan` never reports one, it raises TreeChanged."""


def vanished(rel: str) -> Vanished:
    return Vanished(rel, 0, "VANISHED", "deleted or renamed while the route tree was read",
                    "read the tree again once it stops changing")


def _gone(exc: OSError) -> bool:
    """The error of a path that no longer is what the walk listed: gone, or a file where a
    folder was (or a folder where a file was)."""
    return isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError))


class TreeChanged(FastAPIRouteError):
    """Files or folders of the route tree vanished while it was read."""

    def __init__(self, paths: list[str]) -> None:
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        super().__init__(f"the route tree changed while it was read ({shown} vanished)",
                         "run the command again once the files stop changing")
        self.paths = paths


@dataclass
class Walk:
    """The files the route folder holds, each as (path relative to root, folder names below
    the route folder), sorted; with `every_name`, also the names each folder holds."""

    route_files: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    layout_files: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Folder (relative to root) -> the names in it, sorted: every folder below the route and
    # static folders, `_private` ones too, but no hidden name and no __pycache__ (what the
    # portability check reads).
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Folders (relative to root) listed in their parent but gone when read: the tree changed.
    vanished: list[str] = field(default_factory=list)


def _selected(rel_to_routes: str, config: Config) -> bool:
    include = config.build.include_patterns
    if include and not any(fnmatch.fnmatchcase(rel_to_routes, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(rel_to_routes, p) for p in config.build.exclude_patterns)


def _listed(name: str) -> bool:
    """A name the portability check sees: hidden names are tool state (`.git`, `.DS_Store`)
    and `__pycache__` is rebuilt by every interpreter, so neither is shipped or served."""
    return not name.startswith(".") and name != "__pycache__"


def walk(root: Path, config: Config, *, every_name: bool = False) -> Walk:
    """Every route file (as include/exclude patterns select them) and every layout; with
    `every_name`, also every name below the route and static folders (`Walk.names`).

    `run` and `status` repeat only this walk (no names) to tell whether the cache is stale
    (`freshness`).
    """
    result = Walk()
    route_dir = Path(config.route_dir).as_posix()
    if (root / route_dir).is_dir():
        _walk_from(root, route_dir, config, result, routes=True, every_name=every_name)
    else:
        result.problems.append(
            Problem(
                config.route_dir, 0, "NO_ROUTE_DIR", f"there is no '{config.route_dir}' folder",
                "create it (fastapi-route init makes one) or set route_dir in config.py",
            )
        )
    static_dir = Path(config.static_dir).as_posix()
    if every_name and (root / static_dir).is_dir():
        _walk_from(root, static_dir, config, result, routes=False, every_name=True)
    result.route_files.sort()
    result.layout_files.sort(key=lambda layout: (len(layout[1]), layout[0]))
    return result


def _walk_from(root: Path, top: str, config: Config, result: Walk, *, routes: bool,
               every_name: bool) -> None:
    """Walk `root/top` into `result`. Symlinked folders are followed, but not back to a folder
    above them. With `routes`, route files and layouts are collected and the walk's problems
    reported; `_private` and hidden folders hold no routes, so below them (and everywhere
    without `routes`) only names are listed, and only with `every_name`."""
    found, layouts, problems = result.route_files, result.layout_files, result.problems
    names = result.names if every_name else None

    def rel(*parts: str) -> str:  # string joins: `run` walks the tree at every start
        return "/".join((top, *parts))

    # Each entry: folder path, folder names below top, its real path, the real paths of the
    # folders above it (a real path changes only through a symlink, so only links cost a
    # realpath call), and whether it can hold routes.
    top_real = os.path.realpath(root / top)
    stack: list[tuple[str, tuple[str, ...], str, frozenset[str], bool]] = [
        (str(root / top), (), top_real, frozenset({top_real}), routes)
    ]
    while stack:
        folder, parts, folder_real, ancestors, routed = stack.pop()
        if not routed and names is not None and rel(*parts) in names:
            continue  # listed already: the static folder inside the route folder
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if _gone(exc):  # listed (or found) a moment ago: the tree is changing
                result.vanished.append(rel(*parts))
            elif routed:  # below a `_private` folder (or outside routes) unreadable is fine
                problems.append(
                    Problem(rel(*parts), 0, "SCAN_ERROR", f"cannot read folder: {exc.strerror}",
                            "check the folder's permissions")
                )
            continue
        if names is not None:
            names[rel(*parts)] = tuple(e.name for e in entries if _listed(e.name))
        subfolders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows symlinks
                is_file = not is_dir and entry.is_file()
                is_link = is_dir and entry.is_symlink()
            except OSError:
                is_dir = is_file = is_link = False
            if is_dir:
                holds_routes = routed and not is_skipped_dir(entry.name)
                if not holds_routes and (names is None or not _listed(entry.name)):
                    continue
                real = os.path.realpath(entry.path) if is_link else f"{folder_real}/{entry.name}"
                if real in ancestors:
                    if holds_routes:
                        problems.append(
                            Problem(
                                rel(*parts, entry.name), 0, "CIRCULAR_GROUP",
                                "this folder links back to a folder above it, a loop with no "
                                "end", "remove the symlink or point it outside its own parents",
                            )
                        )
                    continue
                subfolders.append(
                    (entry.path, (*parts, entry.name), real, ancestors | {real}, holds_routes)
                )
            elif not routed:
                continue
            elif is_file and entry.name in ROUTE_FILES:
                if _selected("/".join((*parts, entry.name)), config):
                    found.append((rel(*parts, entry.name), parts))
            elif is_file and entry.name == LAYOUT_FILE:
                layouts.append((rel(*parts, entry.name), parts))
        stack.extend(reversed(subfolders))


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
        isinstance(node, ast.AsyncFunctionDef),
        tuple(a.arg for a in args.posonlyargs),
        tuple(variadic),
        _literal_operation_id(node),
        tuple((a.arg, ast.unparse(a.annotation)) for a in (*args.posonlyargs, *args.args,
                                                          *args.kwonlyargs) if a.annotation),
        () if node.returns is not None else returned_statuses(node),
    )


# A return the source shows no status for: a body FastAPI answers with its default, 200.
DEFAULT_STATUS = 200
NO_CONTENT = 204  # `return`, `return None`, or the end of the function reached


def returned_statuses(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, ...]:
    """The statuses a handler's own returns show, sorted; () when that is only the default.

    SPEC 2's return values, told from the source as far as it is literal: `return`, `return
    None` and an end the function can reach are 204; `return body, 202` (or with headers)
    with the status an int literal is that status; any other return (a body, a Response, a
    status in a variable) is counted as the default 200, which is what FastAPI documents for
    it. A generator says nothing. Nested functions and classes are not the handler's returns.
    """
    statuses: set[int] = set()
    for child in _own_nodes(node):
        if isinstance(child, (ast.Yield, ast.YieldFrom)):
            return ()
        if isinstance(child, ast.Return):
            statuses.add(_status_of(child.value))
    if not _ends(node.body):
        statuses.add(NO_CONTENT)
    return () if statuses <= {DEFAULT_STATUS} else tuple(sorted(statuses))


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node inside a function's body but inside no nested function, lambda or class."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                  ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(child))


def _status_of(value: ast.expr | None) -> int:
    if value is None or (isinstance(value, ast.Constant) and value.value is None):
        return NO_CONTENT
    if isinstance(value, ast.Tuple) and len(value.elts) in (2, 3):
        status = value.elts[1]
        if (isinstance(status, ast.Constant) and type(status.value) is int
                and 100 <= status.value <= 599):
            return status.value
    return DEFAULT_STATUS


def _ends(body: list[ast.stmt]) -> bool:
    """Control never passes the end of these statements (a return or raise on every path, as
    far as the statements show it); a call that never returns (`sys.exit()`) is not seen."""
    return any(_stops(statement) for statement in body)


def _stops(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Return, ast.Raise)):
        return True
    if isinstance(node, ast.If):
        return _ends(node.body) and _ends(node.orelse)
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return _ends(node.body)  # a context manager that swallows an exception: not seen
    if type(node).__name__ in ("Try", "TryStar"):  # ast.TryStar (`except*`): 3.11 on
        handlers: list[ast.ExceptHandler] = getattr(node, "handlers", [])
        finished = _ends(getattr(node, "body", [])) or _ends(getattr(node, "orelse", []))
        return _ends(getattr(node, "finalbody", [])) or (
            finished and all(_ends(h.body) for h in handlers)
        )
    if isinstance(node, ast.While):
        endless = isinstance(node.test, ast.Constant) and bool(node.test.value)
        return endless and not any(isinstance(n, ast.Break) for n in _loop_nodes(node.body))
    if isinstance(node, ast.Match):
        last = node.cases[-1] if node.cases else None
        wildcard = (last is not None and last.guard is None
                    and isinstance(last.pattern, ast.MatchAs) and last.pattern.pattern is None)
        return wildcard and all(_ends(case.body) for case in node.cases)
    return False


def _loop_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes of a loop's body that a `break` there would leave this loop from: not inside
    a nested loop, function or class."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef,
                                 ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def _literal_operation_id(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The `operation_id` of a `@route(...)` decorator, when it is written as a string."""
    for decorator in node.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        func = decorator.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "route":
            continue
        for keyword in decorator.keywords:
            value = keyword.value
            if (keyword.arg == "operation_id" and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)):
                return value.value
    return None


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


def digest(chunks: Iterable[bytes]) -> str:
    """A file's digest, from its bytes in one or more pieces: the build records it beside the
    facts read from them, and `freshness` re-reads only a file whose digest differs."""
    hashed = hashlib.blake2b(digest_size=16)
    for chunk in chunks:
        hashed.update(chunk)
    return hashed.hexdigest()


def _parse(path: Path, rel: str) -> tuple[ast.Module, str] | Problem:
    """Parse one file, with the digest of the bytes parsed; a file Python cannot parse
    becomes a SYNTAX_ERROR problem, a file gone since the walk listed it Vanished."""
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
        if isinstance(exc, OSError) and _gone(exc):
            return vanished(rel)
        return Problem(rel, 1, "SYNTAX_ERROR", f"cannot read this file as Python: {exc}",
                       "save it as UTF-8 Python source")
    return tree, digest((source,))


def read_route_file(path: Path, rel: str, folders: tuple[str, ...]) -> RouteFile | Problem:
    """Parse one route file: its handlers, as facts."""
    parsed = _parse(path, rel)
    if isinstance(parsed, Problem):
        return parsed
    tree, read = parsed
    definitions: list[Definition] = []
    lowercase: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in HANDLER_NAMES:
                definitions.append(_definition(node))
            elif node.name.upper() in HANDLER_NAMES:
                lowercase.append(node.name)
            continue
        for name in bound_names(node):
            if name in HANDLER_NAMES:
                definitions.append(Definition(name, node.lineno, False))
    return RouteFile(rel, folders, tuple(definitions), tuple(lowercase), read)


def read_declarations(
    path: Path, rel: str, folders: tuple[str, ...] = ()
) -> Declarations | Problem:
    """Parse a `_layout.py` or `app.py`: the names it binds, as facts."""
    parsed = _parse(path, rel)
    if isinstance(parsed, Problem):
        return parsed
    tree, read = parsed
    return Declarations(rel, folders, tuple(top_level_bindings(tree.body)), read)


# Called after each route file is read with (files read, files found), so that a caller can
# show the progress of a long scan.
FileCallback = Callable[[int, int], None]

Read = RouteFile | Declarations | Problem
T = TypeVar("T", RouteFile, Declarations)
Reader = Callable[[Path, str, tuple[str, ...]], T | Problem]


class Facts:
    """What each file said when last read, reused while its size and mtime stay the same: dev
    re-reads only the files a save changed."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[int, int], Read]] = {}

    def read(self, root: Path, rel: str, folders: tuple[str, ...], reader: Reader[T]
             ) -> T | Problem:
        path = root / rel
        try:
            info = path.stat()
        except OSError:
            return reader(path, rel, folders)
        key = (info.st_mtime_ns, info.st_size)
        known = self._known.get(rel)
        if known is not None and known[0] == key:
            return known[1]  # type: ignore[return-value]  # what `reader` gave for this file
        result = reader(path, rel, folders)
        if not isinstance(result, Vanished):
            self._known[rel] = (key, result)
        return result

    def keep(self, files: set[str]) -> None:
        """Forget every file but these (the ones the last scan found)."""
        self._known = {rel: known for rel, known in self._known.items() if rel in files}


class _NoFacts(Facts):
    def read(self, root: Path, rel: str, folders: tuple[str, ...], reader: Reader[T]
             ) -> T | Problem:
        return reader(root / rel, rel, folders)

    def keep(self, files: set[str]) -> None:
        pass


def scan(root: Path, config: Config, *, on_file: FileCallback | None = None,
         facts: Facts | None = None) -> Scan:
    """Walk the route dir and read every route file and layout, and app.py. Never imports or
    runs them. With `facts`, a file unchanged since it was last read is not parsed again.

    Raises TreeChanged when a file or folder vanished between the walk and its reading.
    """
    found = walk(root, config, every_name=True)
    result = Scan(config.route_dir, problems=found.problems, names=found.names,
                  docs_page=(root / DOCS_FILE).is_file())
    known = facts or _NoFacts()
    gone = list(found.vanished)
    for done, (rel, folders) in enumerate(found.route_files, 1):
        read = known.read(root, rel, folders, read_route_file)
        if isinstance(read, Vanished):
            gone.append(rel)
        elif isinstance(read, Problem):
            result.problems.append(read)
        else:
            result.files.append(read)
        if on_file is not None:
            on_file(done, len(found.route_files))
    for rel, folders in found.layout_files:
        layout = known.read(root, rel, folders, read_declarations)
        if isinstance(layout, Vanished):
            gone.append(layout.file)
        elif isinstance(layout, Problem):
            result.problems.append(layout)
        else:
            result.layouts.append(layout)
    if (root / APP_FILE).is_file():
        app = read_declarations(root / APP_FILE, APP_FILE)
        if isinstance(app, Vanished):
            gone.append(app.file)
        elif isinstance(app, Problem):
            result.problems.append(app)
        else:
            result.app = app
    if gone:
        raise TreeChanged(gone)
    known.keep({rel for rel, _ in (*found.route_files, *found.layout_files)})
    return result
