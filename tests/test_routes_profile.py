"""`fastapi-route routes --profile [--json]` (SPEC 14.4): a child process makes the app as `run`
does and times each route file's import and each route's registration with FastAPI; printed
slowest first, each with its share of the whole. Real project trees; the only timing the tests
rely on is a deliberate 0.3 s against files and routes that take a few milliseconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import write_tree

from fastapi_route.cli import main

REPO = Path(__file__).resolve().parents[1]

TREE = {
    "app.py": """
        from starlette.middleware import Middleware
        from starlette.middleware.gzip import GZipMiddleware

        middleware = [Middleware(GZipMiddleware)]
    """,
    "routes/_layout.py": """
        tags = ["all"]
    """,
    "routes/index.py": """
        def GET(request):
            return {"ok": True}
    """,
    "routes/items/route.py": """
        from pydantic import BaseModel


        class Item(BaseModel):
            name: str


        def GET(request) -> list[Item]:
            return []


        def POST(request, item: Item) -> Item:
            return item
    """,
    "routes/items/[item_id]/route.py": """
        def GET(request, item_id: int):
            return {"item_id": item_id}
    """,
    # a deliberately slow import: 0.3 s at the module's top
    "routes/slow/route.py": """
        import time

        time.sleep(0.3)


        def GET(request):
            return "slow"
    """,
    # a deliberately slow registration: FastAPI reads the dependency's signature
    "routes/heavy/route.py": """
        import inspect
        import time

        from fastapi import Depends


        class Slow:
            @property
            def __signature__(self):
                time.sleep(0.3)
                return inspect.Signature()

            def __call__(self):
                return 1


        def GET(request, value=Depends(Slow())):
            return {"value": value}
    """,
}
ROUTE_FILES = {"routes/index.py", "routes/items/route.py", "routes/items/[item_id]/route.py",
               "routes/slow/route.py", "routes/heavy/route.py"}


def invoke(root: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["routes", "--profile", *args, "--project", str(root)])


def profile_json(root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON as a separate process prints it (stdout alone)."""
    done = subprocess.run(
        [sys.executable, "-m", "fastapi_route", "routes", "--profile", "--json", *args],
        capture_output=True, text=True, check=False, cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(REPO), *(env or {}).get("PYTHONPATH", "").split(os.pathsep)]).rstrip(os.pathsep),
             **{k: v for k, v in (env or {}).items() if k != "PYTHONPATH"}},
    )
    assert done.returncode == 0, done.stderr
    assert "child process" in done.stderr and "runs the app's code" in done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def modules_from(root: Path) -> list[str]:
    """The modules of this process loaded from files under `root`."""
    base = root.resolve()
    return [name for name, module in list(sys.modules.items())
            if isinstance(getattr(module, "__file__", None), str)
            and base in Path(module.__file__).resolve().parents]


def section(text: str, title: str) -> list[str]:
    """The rows of one section of the text report (below its title and column heads)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(line)
    return rows


def test_the_slow_file_and_the_slow_route_come_first_and_the_parent_imports_neither(
    tmp_path: Path,
) -> None:
    root = write_tree(tmp_path / "app", TREE)
    result = invoke(root, "--scan")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "child process" in out and "runs the app's code" in out
    files = section(out, "Route files, import")
    assert len(files) == 5 and files[0].split()[-1] == "routes/slow/route.py"
    routes = section(out, "Routes, FastAPI registration")
    assert routes[0].split()[2:] == ["GET", "/heavy", "routes/heavy/route.py:17"]
    assert len(routes) == 6  # items has two handlers
    others = section(out, "Other project files, import")
    assert {row.split()[2] for row in others} == {"app.py", "routes/_layout.py"}
    assert "5 route files, 6 routes" in out
    # The child ran the app's code; this process imported none of the project's files.
    assert modules_from(root) == []


def test_top_limits_the_rows_of_each_kind(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", TREE)
    result = invoke(root, "--scan", "--top", "1")
    assert result.exit_code == 0, result.output
    assert "Route files, import (1 of 5, slowest first; median " in result.output
    assert [row.split()[-1] for row in section(result.output, "Route files, import")] == [
        "routes/slow/route.py"]
    assert len(section(result.output, "Routes, FastAPI registration")) == 1


def test_the_json_has_every_file_and_route_slowest_first_shares_adding_up(
    tmp_path: Path,
) -> None:
    root = write_tree(tmp_path / "app", TREE)
    assert CliRunner().invoke(main, ["build", "--project", str(root)]).exit_code == 0
    data = profile_json(root)  # from the cache: the default, as `run`
    assert data["source"] == "cache" and data["project"] == str(root.resolve())
    files = data["files"]
    assert files[0]["file"] == "routes/slow/route.py" and files[0]["kind"] == "route"
    assert {f["file"] for f in files if f["kind"] == "route"} == ROUTE_FILES
    assert {f["file"]: f["kind"] for f in files if f["kind"] != "route"} == {
        "app.py": "app", "routes/_layout.py": "layout"}
    assert next(f for f in files if f["file"] == "routes/items/route.py")["routes"] == 2
    in_order = sorted(files, key=lambda f: f["order"])  # app.py, then the layout above the rest
    assert [f["file"] for f in in_order[:2]] == ["app.py", "routes/_layout.py"]
    assert [f["seconds"] for f in files] == sorted((f["seconds"] for f in files), reverse=True)
    routes = data["routes"]
    assert (routes[0]["method"], routes[0]["path"], routes[0]["file"], routes[0]["line"]) == (
        "GET", "/heavy", "routes/heavy/route.py", 17)
    assert len(routes) == 6 and {"modules", "libraries", "label", "share"} <= set(routes[0])
    assert [r["seconds"] for r in routes] == sorted((r["seconds"] for r in routes), reverse=True)
    # Shares of one whole: the steps add up to 100, and the files and routes to their steps.
    steps = {s["step"]: s for s in data["steps"]}
    assert list(steps) == ["framework", "create_app", "project_files", "route_files",
                           "registration", "collections"]
    assert sum(s["share"] for s in steps.values()) == pytest.approx(100, abs=0.01)
    assert sum(s["seconds"] for s in steps.values()) == pytest.approx(data["total_seconds"],
                                                                      abs=1e-5)
    parts = [f["share"] for f in files] + [r["share"] for r in routes]
    apart = sum(steps[name]["share"] for name in ("framework", "create_app", "collections"))
    assert sum(parts) + apart == pytest.approx(100, abs=0.05)
    assert sum(r["share"] for r in routes) == pytest.approx(steps["registration"]["share"],
                                                            abs=0.05)


def test_a_library_a_file_imports_first_is_named(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {
        "routes/index.py": "def GET(request):\n    return 1\n",
        "routes/mail/route.py": "import smtplib\n\n\ndef GET(request):\n    return 1\n",
    })
    data = profile_json(root, "--scan")
    mail = next(f for f in data["files"] if f["file"] == "routes/mail/route.py")
    assert mail["libraries"][0] == "smtplib" and mail["modules"] >= 1  # what it imported, first
    index = next(f for f in data["files"] if f["file"] == "routes/index.py")
    assert index["modules"] == 0 and index["libraries"] == []


def test_a_project_helper_a_file_imports_first_is_named_in_its_row(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {
        "routes/index.py": "def GET(request):\n    return 1\n",
        "helpers/slow.py": "import time\n\ntime.sleep(0.3)\n",
        "helpers/__init__.py": "",
        "routes/mail/route.py": "from ...helpers import slow\n\n\ndef GET(request):\n"
                                "    return 1\n",
    })
    data = profile_json(root, "--scan")
    mail = next(f for f in data["files"] if f["file"] == "routes/mail/route.py")
    assert data["files"][0] is mail  # the helper's time is the file's
    assert mail["helpers"][0] == "helpers/slow.py"
    index = next(f for f in data["files"] if f["file"] == "routes/index.py")
    assert index["helpers"] == []
    text = invoke(root, "--scan").output
    assert "routes/mail/route.py  (with helpers/slow.py" in text


def test_a_broken_route_file_exits_1_naming_its_line(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {
        **TREE, "routes/broken/route.py": "VALUE = 1\nx = 1 / 0\n\n\ndef GET(request):\n"
                                         "    return 1\n",
    })
    result = invoke(root, "--scan")
    assert result.exit_code == 1
    assert "routes/broken/route.py:2" in result.output
    assert "ZeroDivisionError" in result.output and "cannot profile the start" in result.output
    assert "Traceback" not in result.output


def test_without_a_build_the_cache_is_asked_for(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", TREE)
    result = invoke(root)
    assert result.exit_code == 1 and "fastapi-route build" in result.output


def test_an_installed_app_is_profiled_from_its_own_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulated: a built package in a folder on the path that the (patched) metadata calls
    # an installed app; the child finds the package on its PYTHONPATH.
    site = tmp_path / "site"
    root = write_tree(site / "myapp", {"__init__.py": "", **TREE})
    assert CliRunner().invoke(main, ["build", "--project", str(root)]).exit_code == 0
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(site), os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setattr("fastapi_route.project.installed_apps", lambda: {"myapp-dist": "myapp"})
    result = CliRunner().invoke(main, ["routes", "--profile", "--app", "myapp-dist"])
    assert result.exit_code == 0, result.output
    assert "Start-up profile of myapp (cache)" in result.output
    assert section(result.output, "Route files, import")[0].split()[-1] == "routes/slow/route.py"


@pytest.mark.parametrize("args", [["--top", "3"], ["--scan"], ["--profile", "--tree"]])
def test_profile_options_without_the_profile_exit_1(tmp_path: Path, args: list[str]) -> None:
    root = write_tree(tmp_path / "app", TREE)
    result = CliRunner().invoke(main, ["routes", *args, "--project", str(root)])
    assert result.exit_code == 1
    assert "--profile" in result.output


def test_a_route_fastapi_refuses_exits_1_naming_its_line(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {
        "routes/index.py": "def GET(request):\n    return 1\n",
        "routes/plain/route.py": """
            class Thing:
                pass


            def GET(request, t: Thing):
                return 1
        """,
    })
    result = invoke(root, "--scan")
    assert result.exit_code == 1
    assert "routes/plain/route.py:5" in result.output and "t: Thing" in result.output
    assert "Traceback" not in result.output
