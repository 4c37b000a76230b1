"""Import the project's own files (route handlers, middleware.py, ...) under stable names.

Nothing is added to sys.path: a route file named `profile.py` or a helper named `email.py`
must not replace a standard-library module. Each project gets one package name:

- an importable package (an installed app, or an editable install): its real name;
- a source folder that is a package (`__init__.py`) whose name nothing else claims: that name,
  registered explicitly, so `from myapp.models import User` works from the source tree too;
- anything else: a private name derived from the folder's path.

Folders whose names are not identifiers (`[id]`, `(auth)`, `v1.0`) become packages with
mangled names and the folder as `__path__`, so a relative `from .helpers import x` inside a
route file finds `helpers.py` beside it. A plain folder (no `__init__.py`) becomes a package
only when an import needs it (`FolderPackages`): a route file is imported without its
folders in sys.modules, which then holds a module per route file rather than two or three
(every `inspect.signature` of a builtin copies sys.modules, and each package costs a module,
its dict and its spec; issue 19).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path, PurePosixPath
from typing import Any

from ..conventions import ROUTE_FILES, SegmentError, SegmentKind, parse_segment
from ..errors import FastAPIRouteError
from ..project import Project
from .aliases import ALIASES, install_finder, natural_modules
from .factories import remember_factory_checks
from .failure import located
from .segment_types import ProjectTypes

_MANGLED = {SegmentKind.PARAM: "_param_", SegmentKind.CATCHALL: "_catchall_",
            SegmentKind.OPTIONAL_CATCHALL: "_optional_", SegmentKind.GROUP: "_group_"}


# A folder `a/route/` beside the route file `a/route.py` must not claim the file's module name.
_FILE_STEMS = frozenset(name.removesuffix(".py") for name in ROUTE_FILES)


def module_part(folder: str) -> str:
    """A folder name as one dotted-name part: identifiers as they are (but for `route` and
    `index`), `[id]`, `[...slug]` and `(group)` by what the grammar reads in them, anything
    else as hex."""
    if folder.isidentifier() and folder not in _FILE_STEMS:
        return folder
    try:
        segment = parse_segment(folder, None)
    except SegmentError:
        segment = None
    if segment is not None and segment.kind in _MANGLED and segment.name.isidentifier():
        # A typed `[id=int]` may sit beside `[id]`: `_paramint_id`, which no `[name]` gives.
        typed = segment.type if segment.type != "str" else ""
        return _MANGLED[segment.kind].rstrip("_") + typed + "_" + segment.name
    return "_x" + folder.encode("utf-8", "surrogateescape").hex()


def _execute(spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
    """Create, register and run a module; a module that raises is not left registered."""
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    if spec.loader is not None:
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[spec.name]
            raise
    return module


def _module_beside(folder: Path) -> bool:
    """Whether a module file of the folder's name is beside it (which Python imports under
    that name in place of a folder without an `__init__.py`)."""
    for suffix in importlib.machinery.all_suffixes():
        try:
            if folder.with_name(folder.name + suffix).is_file():
                return True
        except OSError:  # a name the file system refuses (too long with the suffix): none
            continue
    return False


def _plain_package(name: str, folder: str) -> importlib.machinery.ModuleSpec:
    """A package whose `__path__` is `folder`, with nothing to run (a folder without an
    `__init__.py` Python may run, or whose name Python cannot import)."""
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [folder]
    return spec


class FolderPackages(importlib.abc.MetaPathFinder):
    """Finds the package of a plain folder of a project when an import asks for it (a
    relative import in a route file, a real package below it, `importlib.reload`): the
    folder below the parent package's folder whose `module_part` is the name's last part.
    Only names below a project's package are looked at, and what the path finder finds
    stays its own (a module file, a real package, a namespace package): what is left is a
    folder whose name Python cannot import (`[id]`, `(group)`), found by its mangled name."""

    def __init__(self) -> None:
        self._bases: frozenset[str] = frozenset()
        self._heads: frozenset[str] = frozenset()  # their first parts: one set lookup

    def add(self, base: str) -> None:
        self._bases = self._bases | {base}
        self._heads = frozenset(b.partition(".")[0] for b in self._bases)
        install_finder(self)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not path or fullname.partition(".")[0] not in self._heads or not any(
                fullname.startswith(base + ".") for base in self._bases):
            return None
        part = fullname.rpartition(".")[2]
        # What the path finder finds stays its own: a module file, a real package, and a
        # namespace package (PEP 420), whose `__path__` may span folders in several places.
        if importlib.machinery.PathFinder.find_spec(fullname, path) is not None:
            return None
        for location in path:
            try:
                entries = list(os.scandir(location))
            except OSError:
                continue
            for entry in entries:
                if module_part(entry.name) == part and entry.is_dir():
                    return _plain_package(fullname, entry.path)
        return None


FOLDERS = FolderPackages()


class HandlerImportError(FastAPIRouteError):
    """A project file raised while being imported."""


# Wraps each import of a project file (the path relative to the project root) in this process:
# `fastapi-route routes --profile` times them in its child process (`profiling`); None, and
# nothing but a `nullcontext` per file, everywhere else.
IMPORT_WATCH: Callable[[str], AbstractContextManager[object]] | None = None


class ProjectModules:
    """Imports the files of one project; each file is imported at most once."""

    def __init__(self, project: Project) -> None:
        # Before any file of the project makes its models: see `factories`.
        remember_factory_checks()
        self.root = project.root
        self._loaded: dict[str, types.ModuleType] = {}
        # Held while a file runs: two threads must not both run it, nor see it half run (and
        # `openapi` forks only while it holds it: no copy has a file half run).
        self.lock = threading.RLock()
        try:
            self.base = self._base_package(project)
        except Exception as exc:  # the package's own __init__.py raised
            raise HandlerImportError(
                f"{project.name}/__init__.py failed to import: {type(exc).__name__}: {exc}",
                "fix the error in the project's __init__.py",
            ) from exc
        FOLDERS.add(self.base)
        self.types = ProjectTypes(self)  # its params/ (SPEC 14.1), imported when used
        self._adopt()
        ALIASES.register(self)

    def _adopt(self) -> None:
        """Files a test imported by another name before the app existed are the modules the
        app uses (see `aliases`): under their own name and this project's."""
        for rel_file, module in natural_modules(self.root).items():
            name = self.module_name(rel_file)
            if module.__name__ != name and name not in sys.modules:
                sys.modules[name] = module
                self._loaded[rel_file] = module

    def _base_package(self, project: Project) -> str:
        name = project.package
        if name:
            spec = importlib.util.find_spec(name) if name not in sys.modules else None
            module = sys.modules.get(name)
            locations = (
                list(getattr(module, "__path__", []))
                if module is not None
                else list(spec.submodule_search_locations or []) if spec else []
            )
            if any(Path(p).resolve() == self.root for p in locations):
                importlib.import_module(name)
                return name
            if module is None and spec is None:
                self._register(name, self.root, self.root / "__init__.py")
                return name
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:10]
        name = f"_fastapi_route_project_{digest}"
        if name not in sys.modules:
            self._register(name, self.root, None)
        return name

    @staticmethod
    def _register(name: str, folder: Path, init: Path | None) -> types.ModuleType:
        """Make `name` a package whose __path__ is `folder`, running its __init__ if any."""
        if init is not None and init.is_file():
            spec = importlib.util.spec_from_file_location(
                name, init, submodule_search_locations=[str(folder)]
            )
        else:
            spec = _plain_package(name, str(folder))
        assert spec is not None
        return _execute(spec)

    def module_name(self, rel_file: str) -> str:
        """`routes/users/[id]/route.py` -> `<base>.routes.users._param_id.route`.

        A file whose name Python can import gets the very name a relative import of it
        would (`from ...app import x` in a route file reaches `<base>.app`), so each file is
        one module however it is reached; `not-found.py` and the like get a mangled one.
        """
        posix = PurePosixPath(rel_file)
        parts = [module_part(p) for p in posix.parent.parts]
        if posix.name == "__init__.py":  # a helper package's own file: the package
            return ".".join([self.base, *parts])
        stem = posix.stem if posix.stem.isidentifier() else module_part(posix.stem)
        return ".".join([self.base, *parts, stem])

    def _ensure_packages(self, rel_file: str) -> None:
        """The real packages on the way to a file (an `__init__.py` under an importable name)
        are imported first, as Python would (and the plain folders above them with them, by
        `FolderPackages`); a plain folder only when an import asks for it."""
        name = self.base
        folder = self.root
        for part in PurePosixPath(rel_file).parent.parts:
            folder = folder / part
            name = f"{name}.{module_part(part)}"
            package = (folder / "__init__.py").is_file()
            if module_part(part) == part and not package and _module_beside(folder):
                # `helpers.py` beside a plain `helpers/`: Python gives the name to the file,
                # so no package below the folder can be imported by name; the file itself
                # still is, by its path (a relative import in it fails, as in Python).
                return
            if module_part(part) == part and name not in sys.modules and package:
                importlib.import_module(name)

    def load(self, rel_file: str, *, packages: bool = False) -> types.ModuleType:
        """Import a project file by its path relative to the root (cached in sys.modules).
        With `packages`, the folders on the way are in sys.modules too, as Python leaves a
        module it imports by name (what `importlib.reload` of it looks for)."""
        module = self._loaded.get(rel_file)  # a file with several handlers: asked often
        if module is None:
            with self.lock:
                module = self._load(rel_file)
        if packages:
            parent = self.module_name(rel_file).rpartition(".")[0]
            if parent not in sys.modules:
                importlib.import_module(parent)  # by `FolderPackages`
        return module

    def function(self, rel_file: str, name: str, *, line: int | None = None,
                 hint: str | None = None) -> Callable[..., Any]:
        """`name` in a project file (imported if need be), which must be callable there; else a
        FastAPIRouteError at the file (and `line`, where the build saw it defined)."""
        func = getattr(self.load(rel_file), name, None)
        if not callable(func):
            where = rel_file if line is None else f"{rel_file}:{line}"
            raise FastAPIRouteError(
                f"{where} has no function named {name!r}",
                hint or f"define def {name}(...) in {rel_file}, or delete the file",
            )
        return func  # type: ignore[no-any-return]

    def _load(self, rel_file: str) -> types.ModuleType:
        module = self._loaded.get(rel_file)
        if module is not None:
            return module
        name = self.module_name(rel_file)
        if name in sys.modules:  # imported by another file: import_module waits for it to finish
            module = self._loaded[rel_file] = importlib.import_module(name)
            return module
        try:
            with IMPORT_WATCH(rel_file) if IMPORT_WATCH is not None else nullcontext():
                self._ensure_packages(rel_file)
                # A package's __init__ on the way may have imported the file (or be it).
                module = sys.modules.get(name)
                if module is None:
                    spec = importlib.util.spec_from_file_location(name, self.root / rel_file)
                    assert spec is not None
                    module = _execute(spec)
            self._loaded[rel_file] = module
            return module
        except (Exception, SystemExit) as exc:  # sys.exit() at import fails the import too
            raise HandlerImportError(
                located(f"{rel_file} failed to import", exc, self.root),
                "fix the error in that file",
            ) from exc

    def forget(self, folder: str) -> None:
        """Drop the modules of every file below `folder` (relative to the root), helpers
        included, so that the next import of each reads the file again (dev)."""
        prefix = ".".join([self.base, *(module_part(p) for p in PurePosixPath(folder).parts)])
        dropped = [sys.modules.pop(n) for n in list(sys.modules)
                   if n == prefix or n.startswith(prefix + ".")]
        # The same modules under the names a test imported them by (`aliases`) go too.
        ids = {id(m) for m in dropped}
        for name in [n for n, m in list(sys.modules.items()) if id(m) in ids]:
            del sys.modules[name]
        # The import system sets a package's submodules as its attributes: the package kept
        # (the project's) must not keep the dropped one, and every module below it, alive.
        parent, _, child = prefix.rpartition(".")
        if isinstance(getattr(sys.modules.get(parent), child, None), types.ModuleType):
            delattr(sys.modules[parent], child)
        inside = PurePosixPath(folder).as_posix() + "/"
        self._loaded = {f: m for f, m in self._loaded.items() if not f.startswith(inside)}
        importlib.invalidate_caches()  # new files in folders Python already listed
