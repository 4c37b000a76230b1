"""Read each route file, layout, params file and app.py that the walk (`walk`) finds, with
`ast`: facts only, no user code runs. Facts go to `validate`, which decides.

A file or folder that was listed but is gone when it is read (deleted or renamed meanwhile)
is not a problem of the tree: the tree changed while it was read. `scan` then raises
TreeChanged, for the caller to scan again (`dev` does, a few times) or to say so.
"""

from __future__ import annotations

import ast
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
)
from ..errors import FastAPIRouteError, Problem
from . import segment_types
from .digest import Stamp, digest, stamp_of
from .segment_types import ParamsFile
from .walk import TreeWalk, Walk, is_gone, walk


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


class TreeChanged(FastAPIRouteError):
    """Files or folders of the route tree vanished while it was read."""

    def __init__(self, paths: list[str]) -> None:
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        super().__init__(f"the route tree changed while it was read ({shown} vanished)",
                         "run the command again once the files stop changing")
        self.paths = paths




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
        if isinstance(exc, OSError) and is_gone(exc):
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
    """What each file said when last read, reused while its stamp (`digest.stamp_of`) stays
    the same; and the walk of the tree (`TreeWalk`), read again only where paths changed since
    (`changed`): dev re-reads only the folders and files a save changed.

    Walks are partial only once `track` is on: from then on every change must be told
    (`changed`), or a full walk asked for (`walk_everything`), as a folder no change was
    told of is not read again, nor is a file in it checked."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[Stamp, Read]] = {}
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
        last = tree if tree is not None and tree.root == root and tree.config is config else None
        self._tree = tree = TreeWalk(root, config)
        return tree.walk_all(last), None

    def read(self, root: Path, rel: str, folders: tuple[str, ...], reader: Reader[T],
             check: bool = True) -> T | Problem:
        """The file's facts: read again when its size or mtime changed; without `check`
        (its folder was not read again) the known ones, when there are."""
        known = self._known.get(rel)
        if not check and known is not None:
            return known[1]  # type: ignore[return-value]  # what `reader` gave for this file
        path = root / rel
        key = stamp_of(str(path))  # the stale check's rule for "not written since"
        if key is None:  # gone, or not a file: the reader says what is wrong
            return reader(path, rel, folders)
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
