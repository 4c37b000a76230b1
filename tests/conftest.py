"""Shared helpers: write real project trees into tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

TreeMaker = Callable[[Path, Mapping[str, str]], Path]


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write `files` (relative posix path -> source) under `root` and return `root`.

    Each value is dedented and one leading newline is dropped, so that in

        write_tree(root, {"routes/index.py": '''
            def GET(request):
                return {}
        '''})

    `def GET` is on line 1. Parent folders are created; existing files are overwritten, so the
    helper can be called again on the same root to change a tree.
    """
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(content)
        if text.startswith("\n"):
            text = text[1:]
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def make_tree() -> TreeMaker:
    """`make_tree(tmp_path, {"routes/index.py": "..."}) -> Path` (the project root)."""
    return write_tree


@pytest.fixture
def project(tmp_path: Path) -> Callable[[Mapping[str, str]], Path]:
    """`project({...}) -> Path`: a project root at `tmp_path / "app"` holding those files."""

    def make(files: Mapping[str, str]) -> Path:
        return write_tree(tmp_path / "app", files)

    return make
