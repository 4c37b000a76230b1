"""One module per project file, whatever name it is imported by (SPEC 12.2).

A project's files are imported under the project's package name (`runtime.modules`): its real
one for a package, a private one (`_fastapi_route_project_<hash>`) for a plain folder. A test
that puts the project folder on sys.path (pytest's `pythonpath = ["."]`, or a `conftest.py`
at the root) and imports `routes.items.deps` by the name the folder gives it would get a
second copy of the file, and `app.dependency_overrides[deps.get_db]` would key a function no
route uses: the override would silently do nothing. So, both ways round:

- once a project's app exists, importing one of its files by that other name gives the
  module the app uses (`Aliases`, a finder ahead of the path finder);
- a file imported by that name before the app existed is the module the app then uses
  (`ProjectModules` adopts it, see `adoptable`).

Only the files an app imports are aliased: the route folder's and the top level's modules,
not tests, `conftest.py`, `config.py` (executed on its own by `load_config`) or packages'
`__init__.py`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading
import types
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from ..conventions import CONFIG_FILE

Loader = Callable[[str], types.ModuleType]  # a file relative to its root -> its module

_NOT_APP_FOLDERS = frozenset({"tests", "test", "docs", "bench", "examples"})
_NOT_APP_FILES = frozenset({CONFIG_FILE, "conftest.py", "setup.py", "noxfile.py",
                            "__init__.py", "__main__.py"})


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

    def __init__(self, load: Loader, rel_file: str) -> None:
        self.load = load
        self.rel_file = rel_file

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        # The import system then stores it under the other name too; it keeps the module's
        # own __name__ and __spec__ (it only fills in attributes a module lacks).
        return self.load(self.rel_file)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing: the module has run, under the name the app gave it."""


class Aliases(importlib.abc.MetaPathFinder):
    """The finder: a name whose file (as the path finder would find it) is an adoptable file
    of a project with an app is given that app's module. Names whose first part is not a file
    or folder at a project's top level are turned away with one set lookup."""

    def __init__(self) -> None:
        self._roots: dict[Path, Loader] = {}
        self._heads: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def register(self, root: Path, load: Loader) -> None:
        """Alias `root`'s files to the modules `load` gives (the newest app's, if several)."""
        root = root.resolve()
        with self._lock:
            self._roots[root] = load
            # The folder's own name too: `import api.routes.x` with the folder's parent on
            # sys.path reaches the same files (as a namespace package, for a plain folder).
            heads = {*self._heads, root.name}
            try:
                for entry in root.iterdir():
                    name = entry.name.removesuffix(".py") if entry.suffix == ".py" else entry.name
                    if name.isidentifier() and name not in _NOT_APP_FOLDERS:
                        heads.add(name)
            except OSError:
                pass
            self._heads = frozenset(heads)
        _install(self)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self._heads:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.has_location or spec.origin is None:
            return None  # not found, or a namespace package (a plain folder): as it is
        file = Path(spec.origin).resolve()
        for root, load in list(self._roots.items()):
            if file.is_relative_to(root):
                rel = file.relative_to(root).as_posix()
                if adoptable(rel):
                    return importlib.machinery.ModuleSpec(
                        fullname, _Alias(load, rel), origin=spec.origin)
        return None


ALIASES = Aliases()


def _install(finder: Aliases) -> None:
    """Put the finder just ahead of the path finder (after pytest's assertion rewriter and
    any other hook that comes first), once."""
    if finder in sys.meta_path:
        return
    at = next((i for i, f in enumerate(sys.meta_path)
               if f is importlib.machinery.PathFinder), len(sys.meta_path))
    sys.meta_path.insert(at, finder)
