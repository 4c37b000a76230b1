"""One module per project file, whatever name it is imported by (SPEC 12.2).

A project's files are imported under the project's package name (`runtime.modules`): its real
one for a package, a private one (`_fastapi_route_project_<hash>`) for a plain folder. A test
that puts the project folder on sys.path (pytest's `pythonpath = ["."]`, or a `conftest.py`
at the root) and imports `routes.items.deps` by the name the folder gives it would get a
second copy of the file, and `app.dependency_overrides[deps.get_db]` would key a function no
route uses: the override would silently do nothing. So, both ways round:

- once a project's app exists, importing one of its files by another name gives the module
  the app uses (`Aliases`, a finder ahead of the path finder);
- a file imported by another name before the app existed is the module the app then uses
  (`ProjectModules` adopts it, see `natural_modules`).

"Another name" is any name the path finder resolves to the file: from the project folder
(`routes.items.deps`), from a folder above it (`services.orders.routes.items.deps`), or a
helper package's (`mypkg`, for `mypkg/__init__.py`). Only the files an app imports are
aliased: not tests, `conftest.py`, or `config.py` (executed on its own by `load_config`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading
import types
import weakref
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol

from ..conventions import CONFIG_FILE
from ..errors import FastAPIRouteError


class ProjectModules(Protocol):
    """What of `modules.ProjectModules` the aliases use (it registers itself here)."""

    root: Path

    def load(self, rel_file: str, *, packages: bool = False) -> types.ModuleType: ...

    def module_name(self, rel_file: str) -> str: ...

_NOT_APP_FOLDERS = frozenset({"tests", "test", "docs", "bench", "examples"})
_NOT_APP_FILES = frozenset({CONFIG_FILE, "conftest.py", "setup.py", "noxfile.py", "__main__.py"})


def adoptable(rel_file: str) -> bool:
    """Whether a file (posix, relative to the project root) is one an app may import, so
    that another name for it must give the app's module."""
    path = PurePosixPath(rel_file)
    if path.suffix != ".py" or path.name in _NOT_APP_FILES:
        return False
    if path.name.startswith("test_") or path.stem.endswith("_test"):
        return False
    return not (len(path.parts) > 1 and path.parts[0] in _NOT_APP_FOLDERS)


def natural_modules(root: Path) -> dict[str, types.ModuleType]:
    """The modules already in sys.modules whose file is an adoptable file of `root`, by that
    file's path relative to the root (a test imported them before the app was made)."""
    real = root.resolve()
    prefixes = tuple({str(root) + os.sep, str(real) + os.sep})
    found: dict[str, types.ModuleType] = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.startswith(prefixes):
            continue  # the common case: one string test per module
        try:
            rel = Path(file).resolve().relative_to(real).as_posix()
        except ValueError:  # a symlink out of the project
            continue
        if adoptable(rel):
            found.setdefault(rel, module)
    return found


class _Alias(importlib.abc.Loader):
    """Gives the module the app uses (imported now if need be) for another name of its file."""

    def __init__(self, modules: ProjectModules, rel_file: str) -> None:
        self.modules = modules
        self.rel_file = rel_file
        self.spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        try:
            # Its folders too: a test may `importlib.reload` what it imported by name.
            module = self.modules.load(self.rel_file, packages=True)
        except FastAPIRouteError as exc:  # modules.HandlerImportError
            # What `import x` raises for a file that fails (ImportError, SyntaxError, ...),
            # so that `try: import x / except ImportError` still works.
            raise (exc.__cause__ or exc) from None
        self.spec = module.__spec__  # the import system sets the alias spec: put back below
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing runs (the module has run, under the app's name); its own spec is put back,
        so that `importlib.reload` and its relative imports keep working."""
        if self.spec is not None:
            module.__spec__ = self.spec


class Aliases(importlib.abc.MetaPathFinder):
    """The finder: a name whose file (as the path finder would find it) is an adoptable file
    of a project with an app is given that app's module. A name whose first part is not a
    folder on the way to a project, the project folder, or an entry at its top level is
    turned away with one set lookup."""

    def __init__(self) -> None:
        # Weak: a test suite makes many apps over many temporary projects.
        self._roots: dict[Path, weakref.ref[ProjectModules]] = {}
        self._heads: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def register(self, modules: ProjectModules) -> None:
        """Alias the files of `modules.root` to the modules `modules` gives (the newest app's,
        if several apps serve one project)."""
        root = modules.root.resolve()
        with self._lock:
            self._roots = {r: m for r, m in self._roots.items() if m() is not None}
            self._roots[root] = weakref.ref(modules)
            heads = {name for r in self._roots for name in _heads_of(r)}
            self._heads = frozenset(heads)
        install_finder(self)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self._heads:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.has_location or spec.origin is None:
            return None  # not found, or a namespace package (a plain folder): as it is
        file = Path(spec.origin).resolve()
        for root, ref in list(self._roots.items()):
            modules = ref()
            if modules is None or not file.is_relative_to(root):
                continue
            rel = file.relative_to(root).as_posix()
            if not adoptable(rel) or modules.module_name(rel) == fullname:
                return None  # not an app's file, or its own name: imported as usual
            return importlib.machinery.ModuleSpec(
                fullname, _Alias(modules, rel), origin=spec.origin,
                is_package=spec.submodule_search_locations is not None)
        return None


def _heads_of(root: Path) -> set[str]:
    """The first parts of the names a file of `root` may be imported by."""
    heads = {part for part in root.parts if part.isidentifier()}
    try:
        for entry in root.iterdir():
            name = entry.name.removesuffix(".py") if entry.suffix == ".py" else entry.name
            if name.isidentifier() and name not in _NOT_APP_FOLDERS:
                heads.add(name)
    except OSError:
        pass
    return heads


ALIASES = Aliases()


def install_finder(finder: importlib.abc.MetaPathFinder) -> None:
    """Put a finder just ahead of the path finder (after pytest's assertion rewriter and
    any other hook that comes first), once."""
    if finder in sys.meta_path:
        return
    at = next((i for i, f in enumerate(sys.meta_path)
               if f is importlib.machinery.PathFinder), len(sys.meta_path))
    sys.meta_path.insert(at, finder)
