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
import threading
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
from . import segment_types
from .segment_types import ParamsFile


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
    params: list[ParamsFile] = field(default_factory=list)  # params/<name>.py (SPEC 14.1)

    @property
    def own_types(self) -> frozenset[str]:
        """The project's own segment types' names (`conventions.OwnTypes`)."""
        return segment_types.own_names(self.params)


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


def _no_route_dir(config: Config) -> Problem:
    return Problem(
        config.route_dir, 0, "NO_ROUTE_DIR", f"there is no '{config.route_dir}' folder",
        "create it (fastapi-route init makes one) or set route_dir in config.py",
    )


def _sorted(result: Walk) -> Walk:
    result.route_files.sort()
    result.layout_files.sort(key=lambda layout: (len(layout[1]), layout[0]))
    return result


def walk(root: Path, config: Config, *, every_name: bool = False) -> Walk:
    """Every route file (as include/exclude patterns select them) and every layout; with
    `every_name`, also every name below the route and static folders (`Walk.names`).

    `run` and `status` repeat only this walk (no names) to tell whether the cache is stale
    (`freshness`); `dev` keeps it folder by folder (`TreeWalk`).
    """
    result = Walk()
    route_dir = Path(config.route_dir).as_posix()
    if (root / route_dir).is_dir():
        _walk_from(root, route_dir, config, result, routes=True, every_name=every_name)
    else:
        result.problems.append(_no_route_dir(config))
    static_dir = Path(config.static_dir).as_posix()
    if every_name and (root / static_dir).is_dir():
        _walk_from(root, static_dir, config, result, routes=False, every_name=True)
    return _sorted(result)


# A folder to read: its path, its folder names below the top, its real path, the real paths of
# the folders above it (a real path changes only through a symlink, so only links cost a
# realpath call), and whether it can hold routes.
_Entry = tuple[str, tuple[str, ...], str, frozenset[str], bool]


def _top_entry(root: Path, top: str, routes: bool) -> _Entry:
    top_real = os.path.realpath(root / top)
    return str(root / top), (), top_real, frozenset({top_real}), routes


def _walk_from(root: Path, top: str, config: Config, result: Walk, *, routes: bool,
               every_name: bool) -> None:
    """Walk `root/top` into `result`. Symlinked folders are followed, but not back to a folder
    above them. With `routes`, route files and layouts are collected and the walk's problems
    reported; `_private` and hidden folders hold no routes, so below them (and everywhere
    without `routes`) only names are listed, and only with `every_name`."""
    names = result.names if every_name else None
    stack = [_top_entry(root, top, routes)]
    while stack:
        entry = stack.pop()
        if not entry[4] and names is not None and "/".join((top, *entry[1])) in names:
            continue  # listed already: the static folder inside the route folder
        subfolders, _ = _read_folder(top, entry, config, result, names)
        stack.extend(reversed(subfolders))


def _read_folder(top: str, entry: _Entry, config: Config, result: Walk,
                 names: dict[str, tuple[str, ...]] | None) -> tuple[list[_Entry], bool]:
    """Read one folder into `result` (its route files, its layout, its problems; its names
    into `names`); return its subfolders to walk, in name order, and whether one of them is
    a symlink."""
    folder, parts, folder_real, ancestors, routed = entry
    here = "/".join((top, *parts))  # string joins: `run` walks the tree at every start
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        if _gone(exc):  # listed (or found) a moment ago: the tree is changing
            result.vanished.append(here)
        elif routed:  # below a `_private` folder (or outside routes) unreadable is fine
            result.problems.append(
                Problem(here, 0, "SCAN_ERROR", f"cannot read folder: {exc.strerror}",
                        "check the folder's permissions")
            )
        return [], False
    if names is not None:
        names[here] = tuple(e.name for e in entries if _listed(e.name))
    subfolders: list[_Entry] = []
    linked = False
    for entry_ in entries:
        name = entry_.name
        try:
            is_dir = entry_.is_dir()  # follows symlinks
            is_file = not is_dir and entry_.is_file()
            is_link = is_dir and entry_.is_symlink()
        except OSError:
            is_dir = is_file = is_link = False
        if is_dir:
            holds_routes = routed and not is_skipped_dir(name)
            if not holds_routes and (names is None or not _listed(name)):
                continue
            linked = linked or is_link
            real = os.path.realpath(entry_.path) if is_link else f"{folder_real}/{name}"
            if real in ancestors:
                if holds_routes:
                    result.problems.append(
                        Problem(
                            f"{here}/{name}", 0, "CIRCULAR_GROUP",
                            "this folder links back to a folder above it, a loop with no "
                            "end", "remove the symlink or point it outside its own parents",
                        )
                    )
                continue
            subfolders.append(
                (entry_.path, (*parts, name), real, ancestors | {real}, holds_routes)
            )
        elif not routed:
            continue
        elif is_file and name in ROUTE_FILES:
            if _selected("/".join((*parts, name)), config):
                result.route_files.append((f"{here}/{name}", parts))
        elif is_file and name == LAYOUT_FILE:
            result.layout_files.append((f"{here}/{name}", parts))
    return subfolders, linked


@dataclass
class _Listing:
    """One folder as `TreeWalk` last read it."""

    top: str
    entry: _Entry
    found: Walk  # what this folder alone adds to the walk
    subfolders: tuple[str, ...]  # the folders walked from it (relative to root)


class TreeWalk:
    """The walk of the tree (every name, as `scan` walks it), kept folder by folder so that
    the next walk reads again only the folders a change touched (`rewalk`): `dev`, whose
    watcher says which paths changed.

    A tree with a symlinked folder, or whose route and static folders overlap, is walked
    whole every time: a change behind a link is not a change of a path below the root."""

    def __init__(self, root: Path, config: Config) -> None:
        self.root = root
        self.config = config
        self.folders: dict[str, _Listing] = {}
        self.tops: dict[str, bool] = {}  # each top folder walked -> whether it holds routes
        self.read: set[str] = set()  # the folders the last walk read
        self.incremental = False
        # The root as the watcher may spell it: as given, or its real path (macOS's
        # /private/var for /var).
        self._prefixes = tuple(dict.fromkeys((str(root) + os.sep,
                                              os.path.realpath(root) + os.sep)))

    def _configured_tops(self) -> tuple[str, str]:
        return Path(self.config.route_dir).as_posix(), Path(self.config.static_dir).as_posix()

    def walk_all(self) -> Walk:
        self.folders.clear()
        self.read = set()
        route_dir, static_dir = self._configured_tops()
        self.tops = {top: routes for top, routes in ((route_dir, True), (static_dir, False))
                     if (self.root / top).is_dir()}
        overlap = (route_dir == static_dir or static_dir.startswith(route_dir + "/")
                   or route_dir.startswith(static_dir + "/"))
        linked = False
        for top, routes in self.tops.items():
            linked = self._walk_below(top, _top_entry(self.root, top, routes)) or linked
        self.incremental = not (linked or overlap) and route_dir in self.tops
        return self._assemble()

    def rewalk(self, changed: Iterable[str]) -> Walk | None:
        """The walk again, reading only the folders holding a changed path (absolute paths,
        as the watcher gives them) and walking whole the folders that changed themselves
        (added, deleted, moved). None when it cannot tell: walk it all (`walk_all`)."""
        if not self.incremental:
            return None
        dirty: set[str] = set()  # folders to list again
        whole: set[str] = set()  # folders to walk again from scratch
        for path in changed:
            prefix = next((p for p in self._prefixes if path.startswith(p)), None)
            if prefix is None:
                return None  # not below the root as this walk spells it: read it all
            rel = path[len(prefix):].replace(os.sep, "/")
            for t in self._configured_tops():
                if t == rel or t.startswith(rel + "/") or (
                        rel.startswith(t + "/") and t not in self.tops):
                    return None  # a top folder itself (or a folder above it) changed
            top = next((t for t in self.tops if rel.startswith(t + "/")), None)
            if top is None:
                continue  # outside the route and static folders
            if rel in self.folders or os.path.isdir(path):
                whole.add(rel)
            parent = rel.rpartition("/")[0]
            while parent not in self.folders and parent != top:
                parent = parent.rpartition("/")[0]  # inside a folder the walk does not list
            if parent not in self.folders:
                return None
            dirty.add(parent)
        self.read = set()
        for rel in sorted(dirty, key=lambda f: f.count("/")):  # outer folders first
            listing = self.folders.get(rel)
            if listing is None or rel in self.read:
                continue  # gone with its parent, or walked whole with it
            if not self._relist(rel, listing, whole):
                return None
        return self._assemble()

    def _relist(self, rel: str, listing: _Listing, whole: set[str]) -> bool:
        found = Walk()
        subfolders, linked = _read_folder(listing.top, listing.entry, self.config, found,
                                          found.names)
        if found.vanished or linked:
            return False  # a full walk says what it means
        self.read.add(rel)
        before = {sub: self.folders[sub].entry for sub in listing.subfolders}
        now = {"/".join((listing.top, *e[1])): e for e in subfolders}
        for sub, entry in before.items():
            if sub in whole or sub not in now or now[sub][2:] != entry[2:]:
                self._drop(sub)  # gone, or changed itself: walked again whole below
        self.folders[rel] = _Listing(listing.top, listing.entry, found, tuple(now))
        for sub, entry in now.items():
            if sub not in self.folders and self._walk_below(listing.top, entry):
                return False
        return True

    def _drop(self, rel: str) -> None:
        stack = [rel]
        while stack:
            listing = self.folders.pop(stack.pop(), None)
            if listing is not None:
                stack.extend(listing.subfolders)

    def _walk_below(self, top: str, first: _Entry) -> bool:
        """Read `first` and every folder below it; whether a symlinked folder was met."""
        linked = False
        stack = [first]
        while stack:
            entry = stack.pop()
            rel = "/".join((top, *entry[1]))
            if not entry[4] and rel in self.folders:
                continue  # listed already: the static folder inside the route folder
            found = Walk()
            subfolders, link = _read_folder(top, entry, self.config, found, found.names)
            linked = linked or link
            self.folders[rel] = _Listing(top, entry, found,
                                         tuple("/".join((top, *e[1])) for e in subfolders))
            self.read.add(rel)
            stack.extend(reversed(subfolders))
        return linked

    def _assemble(self) -> Walk:
        result = Walk()
        if self._configured_tops()[0] not in self.tops:
            result.problems.append(_no_route_dir(self.config))
        for listing in self.folders.values():
            found = listing.found
            result.route_files += found.route_files
            result.layout_files += found.layout_files
            result.problems += found.problems
            result.names.update(found.names)
            result.vanished += found.vanished
        return _sorted(result)


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


def read_params_file(path: Path, rel: str, folders: tuple[str, ...] = ()
                     ) -> ParamsFile | Problem:
    """Parse a `params/<name>.py`: the segment type it defines, as facts."""
    parsed = _parse(path, rel)
    if isinstance(parsed, Problem):
        return parsed
    tree, read = parsed
    return segment_types.read(tree, rel, read)


# Called after each route file is read with (files read, files found), so that a caller can
# show the progress of a long scan.
FileCallback = Callable[[int, int], None]

Read = RouteFile | Declarations | Problem
T = TypeVar("T", RouteFile, Declarations)
_Facts = TypeVar("_Facts", RouteFile, Declarations, ParamsFile)  # what `scan` keeps of a file
Reader = Callable[[Path, str, tuple[str, ...]], T | Problem]


class Facts:
    """What each file said when last read, reused while its size and mtime stay the same;
    and the walk of the tree (`TreeWalk`), read again only where paths changed since
    (`changed`): dev re-reads only the folders and files a save changed.

    Walks are partial only once `track` is on: from then on every change must be told
    (`changed`), or a full walk asked for (`walk_everything`), as a folder no change was
    told of is not read again, nor is a file in it checked."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[int, int], Read]] = {}
        self._tree: TreeWalk | None = None
        self._tracking = False
        self._changed: set[str] | None = None  # told since the last walk; None: walk it all
        self._lock = threading.Lock()  # told in one thread (dev's loop), walked in another

    def track(self) -> None:
        """From the next walk on (a full one), changes are told: walks after it are
        partial."""
        with self._lock:
            self._tracking = True
            self._changed = None

    def changed(self, paths: Iterable[str]) -> None:
        """Paths (absolute) that changed: the next scan reads their folders again."""
        with self._lock:
            if self._changed is not None:
                self._changed.update(paths)

    def walk_everything(self) -> None:
        """The next scan walks the whole tree and checks every file's size and mtime."""
        with self._lock:
            self._changed = None

    def walk(self, root: Path, config: Config) -> tuple[Walk, set[str] | None]:
        """The tree's walk (every name), and the folders read for it: None when all were,
        so that every file is checked again."""
        with self._lock:
            changed, self._changed = self._changed, set() if self._tracking else None
        tree = self._tree
        if changed is not None and tree is not None and tree.root == root and (
                tree.config is config):
            found = tree.rewalk(changed)
            if found is not None:
                return found, tree.read
        self._tree = tree = TreeWalk(root, config)
        return tree.walk_all(), None

    def read(self, root: Path, rel: str, folders: tuple[str, ...], reader: Reader[T],
             check: bool = True) -> T | Problem:
        """The file's facts: read again when its size or mtime changed; without `check`
        (its folder was not read again) the known ones, when there are."""
        known = self._known.get(rel)
        if not check and known is not None:
            return known[1]  # type: ignore[return-value]  # what `reader` gave for this file
        path = root / rel
        try:
            info = path.stat()
        except OSError:
            return reader(path, rel, folders)
        key = (info.st_mtime_ns, info.st_size)
        if known is not None and known[0] == key:
            return known[1]  # type: ignore[return-value]
        result = reader(path, rel, folders)
        if not isinstance(result, Vanished):
            self._known[rel] = (key, result)
        return result

    def keep(self, files: set[str]) -> None:
        """Forget every file but these (the ones the last scan found)."""
        if len(files) != len(self._known) or not files.issuperset(self._known):
            self._known = {rel: known for rel, known in self._known.items() if rel in files}


class _NoFacts(Facts):
    def walk(self, root: Path, config: Config) -> tuple[Walk, set[str] | None]:
        return walk(root, config, every_name=True), None

    def read(self, root: Path, rel: str, folders: tuple[str, ...], reader: Reader[T],
             check: bool = True) -> T | Problem:
        return reader(root / rel, rel, folders)

    def keep(self, files: set[str]) -> None:
        pass


def scan(root: Path, config: Config, *, on_file: FileCallback | None = None,
         facts: Facts | None = None) -> Scan:
    """Walk the route dir and read every route file and layout, and app.py. Never imports or
    runs them. With `facts`, a file unchanged since it was last read is not parsed again,
    and only the folders that changed are walked again.

    Raises TreeChanged when a file or folder vanished between the walk and its reading.
    """
    known = facts or _NoFacts()
    found, read = known.walk(root, config)
    result = Scan(config.route_dir, problems=found.problems, names=found.names,
                  docs_page=(root / DOCS_FILE).is_file())
    gone = list(found.vanished)

    def kept(facts_of: _Facts | Problem) -> _Facts | None:
        """What a file says; None for one gone meanwhile (`gone`) or with a problem."""
        if isinstance(facts_of, Vanished):
            gone.append(facts_of.file)
        elif isinstance(facts_of, Problem):
            result.problems.append(facts_of)
        else:
            return facts_of
        return None

    for done, (rel, folders) in enumerate(found.route_files, 1):
        route_file = kept(known.read(root, rel, folders, read_route_file,
                                     read is None or rel.rpartition("/")[0] in read))
        if route_file is not None:
            result.files.append(route_file)
        if on_file is not None:
            on_file(done, len(found.route_files))
    for rel, folders in found.layout_files:
        layout = kept(known.read(root, rel, folders, read_declarations,
                                 read is None or rel.rpartition("/")[0] in read))
        if layout is not None:
            result.layouts.append(layout)
    if (root / APP_FILE).is_file():
        app = kept(read_declarations(root / APP_FILE, APP_FILE))
        if app is not None:
            result.app = app
    for rel in segment_types.listed(root):
        params = kept(read_params_file(root / rel, rel))
        if params is not None:
            result.params.append(params)
    if gone:
        known.walk_everything()  # what the tree is now, the next scan reads anew
        raise TreeChanged(gone)
    known.keep({rel for rel, _ in (*found.route_files, *found.layout_files)})
    return result
