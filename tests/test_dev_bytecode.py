"""`dev` serves each save even when Python's bytecode cache cannot tell two versions apart.

The cache takes a file's pyc as current when the source's mtime, in whole seconds, and its
size are what the pyc recorded: two saves of one size in the same second (`return 1` made
`return 2`) would be served from the first one's pyc. A file `dev` imports again after it
changed is compiled from its source instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import write_tree
from fastapi.testclient import TestClient

from fastapi_route.config import load_config
from fastapi_route.project import Project
from fastapi_route.runtime.devserver import DevApp

ROUTE = "routes/held/route.py"
SOURCE = "def GET(request):\n    return {'version': %d}\n"


def test_saves_of_one_size_in_one_second_are_each_served(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on a user's machine
    root = write_tree(tmp_path / "app", {ROUTE: SOURCE % 0})
    path = root / ROUTE
    second = (os.stat(path).st_mtime_ns // 1_000_000_000) * 1_000_000_000
    os.utime(path, ns=(second, second))
    app = DevApp(Project(root), load_config(root))
    app.build()
    with TestClient(app) as client:
        assert client.get("/held").json() == {"version": 0}
        assert list((path.parent / "__pycache__").glob("route.*.pyc"))  # the cache is in play
        for version in range(1, 4):
            path.write_text(SOURCE % version)
            os.utime(path, ns=(second + version, second + version))  # same second, same size
            app.reload_routes()
            assert client.get("/held").json() == {"version": version}


def test_an_unchanged_file_imported_again_still_uses_its_bytecode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a changed file pays for compiling: a reload that re-imports an untouched route
    loads its pyc."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    root = write_tree(tmp_path / "app", {ROUTE: SOURCE % 0,
                                         "routes/other/route.py": SOURCE % 9})
    app = DevApp(Project(root), load_config(root))
    app.build()
    compiled: list[str] = []
    real = compile

    def counting(source: object, filename: object, *args: object, **kwargs: object) -> object:
        compiled.append(str(filename))
        return real(source, filename, *args, **kwargs)  # type: ignore[call-overload]

    with TestClient(app) as client:
        assert client.get("/held").json() == {"version": 0}
        assert client.get("/other").json() == {"version": 9}
        (root / ROUTE).write_text(SOURCE % 1 + "\n")
        app.reload_routes()
        monkeypatch.setattr("builtins.compile", counting)
        assert client.get("/held").json() == {"version": 1}
        assert client.get("/other").json() == {"version": 9}
    assert any(name.endswith("held/route.py") for name in compiled)  # the changed one
    assert not any(name.endswith("other/route.py") for name in compiled)
