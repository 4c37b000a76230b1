"""`dev`'s reload, piece by piece (issue 17): a file or folder that vanishes while the tree is
read means "read it again", never a problem of the tree; and a reload lets the previous route
modules go."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
import types
import typing
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import write_tree
from fastapi.testclient import TestClient

from fastapi_route.config import load_config
from fastapi_route.errors import FastAPIRouteError
from fastapi_route.pipeline import walk as walk_module
from fastapi_route.pipeline.scan import Facts, TreeChanged, scan
from fastapi_route.pipeline.walk import walk
from fastapi_route.project import Project
from fastapi_route.runtime import caches, devserver
from fastapi_route.runtime.app import runtime_of
from fastapi_route.runtime.devserver import DevApp
from fastapi_route.runtime.modules import ProjectModules

TREE = {
    "routes/index.py": "def GET(request):\n    return {'index': 1}\n",
    "routes/a/b/route.py": "def GET(request):\n    return {'b': 1}\n",
    "routes/a/c/route.py": "def GET(request):\n    return {'c': 1}\n",
    "routes/a/_layout.py": "tags = ['a']\n",
}


def _vanishing_folder(monkeypatch: pytest.MonkeyPatch, folder: Path,
                      replace: Callable[[Path], None] = shutil.rmtree) -> None:
    """The walk lists `folder`, then it vanishes just before the walk reads it."""
    real = os.scandir

    def scandir(path: object) -> object:
        if isinstance(path, str) and Path(path) == folder and folder.is_dir():
            replace(folder)
        return real(path)

    monkeypatch.setattr(walk_module.os, "scandir", scandir)


def _vanishing_file(monkeypatch: pytest.MonkeyPatch, file: Path,
                    replace: Callable[[Path], None] = Path.unlink) -> None:
    """The walk lists `file`, then it vanishes just before it is read."""
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == file and file.is_file():
            replace(file)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def _file_to_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _folder_to_file(path: Path) -> None:
    shutil.rmtree(path)
    path.write_text("")


@pytest.mark.parametrize("replace", [shutil.rmtree, _folder_to_file], ids=["gone", "a file now"])
def test_a_folder_vanishing_between_listing_and_reading_is_no_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        replace: Callable[[Path], None]) -> None:
    root = write_tree(tmp_path, TREE)
    _vanishing_folder(monkeypatch, root / "routes/a/b", replace)
    found = walk(root, load_config(root), every_name=True)
    assert found.problems == []  # before issue 17: SCAN_ERROR ... cannot read folder
    assert found.vanished == ["routes/a/b"]
    assert [rel for rel, _ in found.route_files] == ["routes/a/c/route.py", "routes/index.py"]
    if (root / "routes/a/b").is_file():
        (root / "routes/a/b").unlink()
    write_tree(root, TREE)  # back, to vanish again under the scan
    with pytest.raises(TreeChanged) as caught:
        scan(root, load_config(root))
    assert caught.value.paths == ["routes/a/b"]


@pytest.mark.parametrize("replace", [Path.unlink, _file_to_folder], ids=["gone", "a folder now"])
@pytest.mark.parametrize("rel", ["routes/a/b/route.py", "routes/a/_layout.py"])
def test_a_file_vanishing_between_listing_and_reading_means_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str,
        replace: Callable[[Path], None]) -> None:
    root = write_tree(tmp_path, TREE)
    config = load_config(root)
    facts = Facts()
    scan(root, config, facts=facts)
    write_tree(root, {rel: TREE[rel] + "\n"})  # changed: read again by the next scan
    _vanishing_file(monkeypatch, root / rel, replace)
    with pytest.raises(TreeChanged) as caught:  # before: SYNTAX_ERROR ... No such file
        scan(root, config, facts=facts)
    assert caught.value.paths == [rel]
    assert isinstance(caught.value, FastAPIRouteError)  # `build` says so and exits 1
    assert f"{rel} vanished" in str(caught.value)
    again = scan(root, config, facts=facts)  # the tree as it is now: read without a problem
    assert again.problems == []
    assert rel not in {f.file for f in again.files} | {x.file for x in again.layouts}


def test_facts_forget_the_files_a_scan_no_longer_finds(tmp_path: Path) -> None:
    root = write_tree(tmp_path, TREE)
    config = load_config(root)
    facts = Facts()
    scan(root, config, facts=facts)
    assert "routes/a/b/route.py" in facts._known
    shutil.rmtree(root / "routes/a/b")
    scan(root, config, facts=facts)
    assert "routes/a/b/route.py" not in facts._known


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[tuple[DevApp, TestClient, Path]]:
    root = write_tree(tmp_path / "app", TREE)
    app = DevApp(Project(root), load_config(root))
    app.build()
    assert app.error is None
    with TestClient(app) as client:
        assert client.get("/a/b").json() == {"b": 1}
        yield app, client, root


def test_a_reload_that_sees_a_file_vanish_reads_the_tree_again(
        dev: tuple[DevApp, TestClient, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    app, client, root = dev
    write_tree(root, {"routes/a/b/route.py": "def GET(request):\n    return {'b': 2}\n"})
    _vanishing_file(monkeypatch, root / "routes/a/b/route.py")  # deleted as it is read
    app.reload_routes()
    assert app.error is None  # before: the error page, SYNTAX_ERROR ... No such file
    assert client.get("/a/b").status_code == 404
    assert client.get("/a/c").json() == {"c": 1}


def test_a_tree_that_keeps_changing_is_read_a_few_times_then_left_to_the_next_change(
        dev: tuple[DevApp, TestClient, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    app, client, root = dev
    calls = []

    def always_changing(*args: object, **kwargs: object) -> object:
        calls.append(1)
        raise TreeChanged(["routes/a/b/route.py"])

    monkeypatch.setattr(devserver, "compile_table", always_changing)
    app.reload_routes()
    assert len(calls) == devserver.SCANS
    assert app.error is None
    assert client.get("/a/b").json() == {"b": 1}  # the app as it was
    monkeypatch.undo()
    write_tree(root, {"routes/a/b/route.py": "def GET(request):\n    return {'b': 3}\n"})
    app.reload_routes()  # the next change
    assert client.get("/a/b").json() == {"b": 3}


# ------------------------------------------------------------------ old modules are let go

RELOADS = 100
# Each module of the tree holds a _MARK: alive while anything still holds the module's namespace
# (a function's __globals__ is the namespace, not the module object, so a weakref to the module
# object would die while its namespace lives on).
HOLDING = {
    "routes/_layout.py": """
        from fastapi import Depends

        class _Mark:
            pass

        _MARK = _Mark()

        async def layout_check():
            yield

        dependencies = [Depends(layout_check)]
    """,
    "routes/held/shared.py": """
        class _Mark:
            pass

        _MARK = _Mark()
        BLOB = bytearray(100_000)
    """,
}


FAILING = """
class _Mark:
    pass

_MARK = _Mark()
raise RuntimeError("this route fails to import")

def GET(request):
    return {}
"""


def _held_route(version: int) -> str:
    return f"""
        from typing import Annotated

        from fastapi import Depends
        from pydantic import BaseModel, field_validator

        from .shared import BLOB

        class _Mark:
            pass

        _MARK = _Mark()

        class Filters(BaseModel):
            q: str = ""

            @field_validator("q")
            @classmethod
            def stripped(cls, value):
                return value.strip()

        def extra():
            return len(BLOB)

        def GET(request, filters: Annotated[Filters, Depends()], size: int = Depends(extra)):
            return {{"version": {version}, "q": filters.q, "size": size}}
    """


def _marks(app: DevApp) -> list[object]:
    """The _MARK of every module of the tree that is imported now."""
    modules = runtime_of(app.app).modules  # type: ignore[arg-type]
    prefix = modules.module_name("routes/x.py").removesuffix(".x")
    return [m._MARK for name, m in sys.modules.items()
            if name.startswith(prefix) and hasattr(m, "_MARK")]


def _failed_import_mark(app: DevApp) -> object:
    """The _MARK of the module that failed to import, held by its route's error."""
    lazy = next(x for x in runtime_of(app.app).file_routes.lazy  # type: ignore[arg-type]
                if x.path == "/fails")
    assert lazy.error is not None
    tb = lazy.error.__cause__.__traceback__  # type: ignore[union-attr]
    while tb is not None:
        if "_MARK" in tb.tb_frame.f_globals:
            return tb.tb_frame.f_globals["_MARK"]
        tb = tb.tb_next
    raise AssertionError("no frame of the failed module")


def _alive(refs: list[weakref.ref[object]]) -> int:
    gc.collect()
    return sum(ref() is not None for ref in refs)


@pytest.fixture
def unrecorded_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest keeps every log record of a test, and a record of a failed import its exception,
    traceback and module: our logs are not recorded here, as a server's handlers keep none."""
    monkeypatch.setattr(logging.getLogger("fastapi_route"), "disabled", True)


@pytest.mark.usefixtures("unrecorded_logs")
def test_a_hundred_reloads_let_every_old_generation_of_modules_go(tmp_path: Path) -> None:
    """A route, its helper, a layout with a dependency, a model used through typing, a route
    whose import fails, /openapi.json: after 100 reloads only the modules of the current tree
    are alive (issue 17 asked for at most one old generation; before it, 2 of every 3 old
    modules here stayed alive: FastAPI's and typing's caches held them)."""
    root = write_tree(tmp_path / "app", {**HOLDING, "routes/held/route.py": _held_route(0),
                                         "routes/fails/route.py": FAILING})
    app = DevApp(Project(root), load_config(root))
    app.build()
    assert app.error is None, app.error
    refs: list[weakref.ref[object]] = []
    with TestClient(app) as client:
        for version in range(1, RELOADS + 1):
            write_tree(root, {"routes/held/route.py": _held_route(version)})
            app.reload_routes()
            assert app.error is None, app.error
            got = client.get("/held", params={"q": " x "})
            assert got.json() == {"version": version, "q": "x", "size": 100_000}, got.text
            assert client.get("/fails").status_code == 500
            if version % 10 == 0:
                assert "/held" in client.get("/openapi.json").json()["paths"]
            marks = [*_marks(app), _failed_import_mark(app)]
            assert len(marks) == 4  # the route, its helper, the layout, the failed one
            refs += [weakref.ref(mark) for mark in marks]
            del marks
        assert _alive(refs) == 4  # the current generation's
        # Reloads with no request between: the new modules are not imported yet, and the
        # old ones are let go all the same.
        app.reload_routes()
        app.reload_routes()
        assert _alive(refs) == 0
        assert client.get("/held").json()["version"] == RELOADS



def test_forget_unhooks_the_route_package_from_the_project_package(tmp_path: Path) -> None:
    """A routes/ with an __init__.py is imported by the import system, which sets it as an
    attribute of the project's package: forgetting it must not leave it (and every module
    below it) alive there."""
    root = write_tree(tmp_path / "app", {
        "routes/__init__.py": "class _Mark:\n    pass\n\n_MARK = _Mark()\n",
        "routes/index.py": "def GET(request):\n    return {}\n",
    })
    modules = ProjectModules(Project(root))
    modules.load("routes/index.py")
    package = sys.modules[f"{modules.base}.routes"]
    mark = weakref.ref(package._MARK)
    del package
    modules.forget("routes")
    assert not hasattr(sys.modules[modules.base], "routes")
    gc.collect()
    assert mark() is None


# --------------------------------------------------- the caches, and when they are not found


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caches, "_warned", set())


def _fake_fastapi(monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    """FASTAPI_MODULES pointed at a module made of `source`."""
    module = types.ModuleType("fake_fastapi_models")
    exec(source, vars(module))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(caches, "FASTAPI_MODULES", (module.__name__,))


@pytest.mark.usefixtures("fresh_warnings")
def test_the_caches_of_this_fastapi_and_python_are_found_without_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    import fastapi.dependencies.models  # noqa: F401  (imported by any app)

    found = caches.fastapi_caches()
    assert found is not None  # FastAPI 0.110 has none, and needs none
    assert caches.typing_caches()
    assert caches.clear_memo_caches() == len(found) + len(caches.typing_caches() or ())
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.usefixtures("fresh_warnings")
def test_a_fastapi_whose_caches_moved_is_one_warning_and_the_reload_goes_on(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # functools' caching imported, no cached function left where it was
    _fake_fastapi(monkeypatch, "from functools import lru_cache\n\ndef classify(call):\n"
                               "    return True\n")
    caches.clear_memo_caches()
    caches.clear_memo_caches()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "FastAPI's caches could not be emptied" in warned[0]


@pytest.mark.usefixtures("fresh_warnings")
def test_a_fastapi_that_does_not_cache_is_not_warned_about(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _fake_fastapi(monkeypatch, "def classify(call):\n    return True\n")
    assert caches.fastapi_caches() == []
    caches.clear_memo_caches()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.usefixtures("fresh_warnings")
def test_caches_found_are_emptied_and_one_that_refuses_is_one_warning(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _fake_fastapi(monkeypatch, "from functools import lru_cache\n\n@lru_cache\n"
                               "def classify(call):\n    return True\n")
    fake = sys.modules["fake_fastapi_models"]
    fake.classify(1)
    caches.clear_memo_caches()
    assert fake.classify.cache_info().currsize == 0

    def refuse() -> None:
        raise RuntimeError("no")

    monkeypatch.setattr(fake.classify, "cache_clear", refuse, raising=False)
    caches.clear_memo_caches()
    caches.clear_memo_caches()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "RuntimeError: no" in warned[0]


@pytest.mark.usefixtures("fresh_warnings")
def test_a_python_whose_typing_caches_moved_is_one_warning(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delattr(typing, "_cleanups")
    assert caches.typing_caches() is None
    caches.clear_memo_caches()
    caches.clear_memo_caches()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "Python typing's caches" in warned[0]
