"""A build walks the tree once: the scan's walk lists the names the portability check reads."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from conftest import write_tree

from fastapi_route.config import load_config
from fastapi_route.pipeline.build import compile_table
from fastapi_route.pipeline.walk import walk

GET = "def GET(request):\n    return {}\n"
TREE = {
    "routes/index.py": GET,
    "routes/users/[user_id]/route.py": "def GET(request, user_id: int):\n    return {}\n",
    "routes/users/_layout.py": "tags = ['users']\n",
    "routes/_lib/helpers.py": "X = 1\n",
    "routes/_lib/deep/data.json": "{}",
    "routes/.hidden/notes.txt": "",
    "routes/__pycache__/x.pyc": "",
    "public/css/app.css": "",
}


def test_a_build_reads_each_folder_once(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "app", TREE)
    config = load_config(root)
    listed: Counter[str] = Counter()
    scandir = os.scandir

    def counting(path):  # type: ignore[no-untyped-def]
        listed[os.path.relpath(path, root)] += 1
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    compile_table(root, config)
    assert listed == Counter({
        "routes": 1, "routes/users": 1, "routes/users/[user_id]": 1, "routes/_lib": 1,
        "routes/_lib/deep": 1, "public": 1, "public/css": 1,
    })


def test_the_names_leave_out_hidden_names_and_pycache(tmp_path) -> None:
    root = write_tree(tmp_path / "app", TREE)
    names = walk(root, load_config(root), every_name=True).names
    assert names == {
        "routes": ("_lib", "index.py", "users"),
        "routes/_lib": ("deep", "helpers.py"),
        "routes/_lib/deep": ("data.json",),
        "routes/users": ("[user_id]", "_layout.py"),
        "routes/users/[user_id]": ("route.py",),
        "public": ("css",),
        "public/css": ("app.css",),
    }


def test_a_static_folder_inside_the_route_folder_is_listed_once(tmp_path) -> None:
    root = write_tree(tmp_path / "app", {
        "routes/index.py": GET, "routes/assets/logo.svg": "",
        "config.py": "static_dir = 'routes/assets'\n",
    })
    found = walk(root, load_config(root), every_name=True)
    assert found.names == {"routes": ("assets", "index.py"), "routes/assets": ("logo.svg",)}


def test_run_walks_no_private_folder(tmp_path) -> None:
    """Without every_name (run's staleness check) the walk stays what it was: routes only."""
    root = write_tree(tmp_path / "app", TREE)
    found = walk(root, load_config(root))
    assert found.names == {}
    assert found.route_files == [("routes/index.py", ()),
                                 ("routes/users/[user_id]/route.py", ("users", "[user_id]"))]
    assert found.layout_files == [("routes/users/_layout.py", ("users",))]
