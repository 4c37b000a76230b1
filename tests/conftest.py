"""Shared helpers: write real project trees into tmp_path, and serve them in every mode."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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


def app_in_mode(root: Path, mode: str, **options: Any) -> Any:
    """The project's app as a mode serves it: `eager` and `lazy` scan the tree; `cache`
    (eager) and `cache-lazy` build first, then serve from the cache."""
    from fastapi_route.config import load_config
    from fastapi_route.pipeline.build import build
    from fastapi_route.project import from_path
    from fastapi_route.runtime.app import create_app

    cached = mode.startswith("cache")
    if cached:
        build(root, load_config(root))
    # As a user's create_app(path) finds it: a package project keeps its real name.
    return create_app(from_path(root), source="cache" if cached else "scan",
                      lazy=mode.endswith("lazy"), **options)


def copy_example(example: Path, into: Path) -> Path:
    """A copy of an example project (the repository's copy is never built into)."""
    target = into / example.name
    shutil.copytree(example, target, ignore=shutil.ignore_patterns("__pycache__", ".cache"))
    return target


def huge_pages_collapse() -> bool:
    """Whether this kernel moves memory onto huge pages on request (`runtime/hugepages.py`):
    Linux 6.1 or later (MADV_COLLAPSE), with transparent huge pages not turned off."""
    switch = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if sys.platform != "linux" or not switch.exists() or "[never]" in switch.read_text():
        return False
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    return (major, minor) >= (6, 1)


def huge_pages_on_request_only() -> bool:
    """Whether huge pages come only where asked for (`madvise`, the kernel's default): under
    `always` every fault may get one, whatever `hugepages` does."""
    switch = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return huge_pages_collapse() and "[madvise]" in switch.read_text()
