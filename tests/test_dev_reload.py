"""`dev`'s reload, piece by piece (issue 17): a file or folder that vanishes while the tree is
read means "read it again", never a problem of the tree; and a reload lets the previous route
modules go."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import write_tree
from fastapi.testclient import TestClient

from fastapi_route.config import load_config
from fastapi_route.errors import FastAPIRouteError
from fastapi_route.pipeline import scan as scan_module
from fastapi_route.pipeline.scan import Facts, TreeChanged, scan, walk
from fastapi_route.project import Project
from fastapi_route.runtime import devserver
from fastapi_route.runtime.devserver import DevApp

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

    monkeypatch.setattr(scan_module.os, "scandir", scandir)


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
