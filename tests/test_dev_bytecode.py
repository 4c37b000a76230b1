"""`dev` serves each save even when Python's bytecode cache cannot tell two versions apart.

The cache takes a file's pyc as current when the source's mtime, in whole seconds, and its
size are what the pyc recorded: two saves of one size in the same second (`return 1` made
`return 2`) would be served from the first one's pyc. The watcher removes the pyc of every
path it reports before the reload (`devserver._forget_bytecode`).
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
from fastapi_route.runtime import devserver
from fastapi_route.runtime.devserver import DevApp

ROUTE = "routes/held/route.py"
SOURCE = "def GET(request):\n    return {'version': %d}\n"


@pytest.mark.parametrize("forgotten", [True, False], ids=["as the watcher does", "without"])
def test_saves_of_one_size_in_one_second_are_each_served(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forgotten: bool) -> None:
    """Without the watcher's step, the second save is served from the first one's pyc: the
    control that shows the cache is in play here."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on a user's machine
    root = write_tree(tmp_path / "app", {ROUTE: SOURCE % 0})
    path = root / ROUTE
    second = (os.stat(path).st_mtime_ns // 1_000_000_000) * 1_000_000_000
    os.utime(path, ns=(second, second))
    app = DevApp(Project(root), load_config(root))
    app.build()
    with TestClient(app) as client:
        assert client.get("/held").json() == {"version": 0}
        assert list((path.parent / "__pycache__").glob("route.*.pyc"))
        path.write_text(SOURCE % 1)
        os.utime(path, ns=(second + 1, second + 1))  # same second, same size
        if forgotten:
            devserver._forget_bytecode({str(path)})
        app.reload_routes()
        assert client.get("/held").json() == {"version": 1 if forgotten else 0}
