"""SPEC 9, the build's checks of `_layout.py`, `app.py` and WEBSOCKET handlers.

Built from the AST, running nothing: an unknown layout name, `prefix`, a sync or wrongly shaped
`middleware`, or a setting written as a function is INVALID_LAYOUT at its file:line; imports,
`_private` names, functions and classes are the file's own business; app.py's near-miss names
and a `configure` without its parameter are INVALID_APP, while app.py's own state is fine; a
sync WEBSOCKET or one without `websocket` is INVALID_HANDLER. Through `fastapi-route build`:
every problem in one run, each as `CODE file:line message` with a hint, exit code 1, no
traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tree

from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.errors import BuildFailed, Problem
from fastapi_route.pipeline.build import compile_table

INDEX = {"routes/index.py": "def GET(request):\n    return {}\n"}


def problems_of(root: Path) -> list[Problem]:
    """Every error of the tree (warnings aside); none when it builds."""
    try:
        compile_table(root, load_config(root))
    except BuildFailed as failed:
        return [p for p in failed.problems if not p.warning]
    return []


def located(problems: list[Problem]) -> set[tuple[str, str, int]]:
    return {(p.code, p.file, p.line) for p in problems}


def cli_build(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["build", "--project", str(root)])
    return result.exit_code, result.output


# --- _layout.py ---------------------------------------------------------------------------------

LAYOUT_CASES = {
    "an unknown name": ("tagz = ['users']\n", 1),
    "prefix": ("tags = ['a']\nprefix = '/api'\n", 2),
    "a sync middleware": ("def middleware(request, call_next):\n    return call_next(request)\n",
                          1),
    "a middleware of one parameter": (
        "async def middleware(request):\n    return None\n", 1),
    "a middleware of three parameters": (
        "async def middleware(request, call_next, extra):\n    return None\n", 1),
    "a middleware that is a value": ("middleware = None\n", 1),
    "tags as a function": ("def tags():\n    return ['x']\n", 1),
    "dependencies as a class": ("class dependencies:\n    pass\n", 1),
    "an unknown annotated name": ("import os\n\nresponse: dict = {}\n", 3),
    "an unknown name in an if block": ("import sys\nif sys.version_info > (3,):\n    tag = 1\n", 3),
    "an unknown name in a try block": ("try:\n    import os\nexcept ImportError:\n    pass\n"
                                       "else:\n    extra = 1\n", 6),
}


@pytest.mark.parametrize("case", LAYOUT_CASES)
def test_invalid_layout_at_file_and_line(tmp_path, case):
    source, line = LAYOUT_CASES[case]
    root = write_tree(tmp_path / "app", {
        **INDEX, "routes/users/_layout.py": source,
        "routes/users/route.py": "def GET(request):\n    return []\n",
    })
    assert located(problems_of(root)) == {("INVALID_LAYOUT", "routes/users/_layout.py", line)}


def test_a_layouts_own_names_are_fine(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/_layout.py": """
            import os
            from typing import Any as _Any

            from fastapi import Depends, Header

            _cache: dict[str, _Any] = {}
            __all__ = ["dependencies"]


            def check(x_key: str = Header("")):
                return x_key


            class Guard:
                pass


            async def middleware(request, call_next):
                return await call_next(request)


            dependencies = [Depends(check)]
            tags = ["api"]
            responses = {404: {"description": "missing"}}
            deprecated = False
            include_in_schema = True
            if os.environ.get("NEVER_SET_BY_THIS_TEST"):
                _debug = True
        """,
        "routes/(group)/_layout.py": "tags = ['group']\n",
        "routes/(group)/a/route.py": "def GET(request):\n    return {}\n",
    })
    assert problems_of(root) == []
    code, out = cli_build(root)
    assert code == 0, out


def test_syntax_error_in_a_layout(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX, "routes/(admin)/_layout.py": "tags = ['a']\n\ndependencies = [\n",
    })
    problems = problems_of(root)
    assert [(p.code, p.file) for p in problems] == [("SYNTAX_ERROR", "routes/(admin)/_layout.py")]
    assert problems[0].line >= 3


def test_a_layout_is_never_run_by_the_build(tmp_path):
    marker = tmp_path / "ran"
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/_layout.py": f"""
            from pathlib import Path

            Path({str(marker)!r}).touch()
            _x = 1
        """,
        "app.py": f"""
            from pathlib import Path

            Path({str(marker)!r}).touch()
        """,
    })
    code, out = cli_build(root)
    assert code == 0, out
    assert not marker.exists()


# --- app.py -------------------------------------------------------------------------------------

APP_CASES = {
    "lifespans": ("lifespans = None\n", 1),
    "exception_handler": ("import os\nexception_handler = {}\n", 2),
    "middlewares": ("middlewares = []\n", 1),
    "a function named lifespam": ("async def lifespam(app):\n    yield\n", 1),
    "configure without its parameter": ("def configure():\n    pass\n", 1),
    "configure of two parameters": ("def configure(app, other):\n    pass\n", 1),
}


@pytest.mark.parametrize("case", APP_CASES)
def test_invalid_app_at_file_and_line(tmp_path, case):
    source, line = APP_CASES[case]
    root = write_tree(tmp_path / "app", {**INDEX, "app.py": source})
    assert located(problems_of(root)) == {("INVALID_APP", "app.py", line)}


APP_SHAPES = {
    "middleware as a function": (
        "async def middleware(request, call_next):\n    return await call_next(request)\n", 1),
    "exception_handlers as a class": ("import os\n\nclass exception_handlers:\n    pass\n", 3),
}


@pytest.mark.parametrize("case", APP_SHAPES)
def test_an_app_setting_of_the_wrong_kind_is_invalid_app(tmp_path, case):
    """`middleware` and `exception_handlers` are values (a list, a dict), which the AST shows,
    as a layout's `tags` written as a function is INVALID_LAYOUT: `build` catches it at its
    line instead of `run` failing at start-up."""
    source, line = APP_SHAPES[case]
    root = write_tree(tmp_path / "app", {**INDEX, "app.py": source})
    assert located(problems_of(root)) == {("INVALID_APP", "app.py", line)}


def test_app_py_own_state_and_settings_are_fine(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "app.py": """
            from contextlib import asynccontextmanager

            from starlette.middleware import Middleware
            from starlette.middleware.gzip import GZipMiddleware

            ml_models = {}
            settings = {"debug": False}
            counter = 0
            _private = 1


            class Store:
                pass


            def helper():
                return 1


            @asynccontextmanager
            async def lifespan(app):
                ml_models["m"] = 1
                yield
                ml_models.clear()


            async def _on_404(request, exc):
                return None


            exception_handlers = {404: _on_404}
            middleware = [Middleware(GZipMiddleware)]


            def configure(app):
                app.state.store = Store()
        """,
    })
    assert problems_of(root) == []


def test_an_async_configure_never_silently_does_nothing(tmp_path):
    """`configure(app)` is called, not awaited: an `async def configure` would only make a
    coroutine. The build must refuse it (INVALID_APP at its line), or else what it adds must
    be served."""

    from fastapi_route.project import Project
    from fastapi_route.runtime.app import create_app

    root = write_tree(tmp_path / "app", {
        **INDEX,
        "app.py": """
            async def configure(app):
                @app.get("/added")
                def added():
                    return {"added": True}
        """,
    })
    problems = problems_of(root)
    if problems:
        assert located(problems) == {("INVALID_APP", "app.py", 1)}
        return
    from fastapi.testclient import TestClient

    app = create_app(Project(root), source="scan", lazy=False)
    assert TestClient(app).get("/added").status_code == 200


# --- WEBSOCKET handlers --------------------------------------------------------------------------


def test_a_sync_websocket_is_invalid_handler(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/chat/route.py": "import os\ndef WEBSOCKET(websocket):\n    pass\n",
    })
    problems = problems_of(root)
    assert located(problems) == {("INVALID_HANDLER", "routes/chat/route.py", 2)}
    assert "async def WEBSOCKET" in problems[0].hint


def test_a_websocket_without_a_websocket_parameter_is_invalid_handler(tmp_path):
    files = {
        **INDEX,
        "routes/chat/route.py": "async def WEBSOCKET(ws):\n    pass\n",
        "routes/rooms/[room]/route.py": "async def WEBSOCKET(request, room):\n    pass\n",
    }
    root = write_tree(tmp_path / "app", files)
    problems = problems_of(root)
    assert located(problems) == {("INVALID_HANDLER", "routes/chat/route.py", 1),
                                 ("INVALID_HANDLER", "routes/rooms/[room]/route.py", 1)}
    assert all("'websocket'" in p.message for p in problems)
    # ... unless require_request is off.
    relaxed = write_tree(tmp_path / "relaxed", {
        **files, "config.py": "build = {'require_request': False}\n",
    })
    assert problems_of(relaxed) == []


def test_a_websocket_missing_its_path_parameter_is_invalid_handler(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX, "routes/rooms/[room]/route.py": "async def WEBSOCKET(websocket):\n    pass\n",
    })
    assert located(problems_of(root)) == {
        ("INVALID_HANDLER", "routes/rooms/[room]/route.py", 1)
    }


def test_an_async_websocket_with_its_parameters_builds(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/rooms/[room]/route.py": """
            def GET(request, room: str):
                return {}


            async def WEBSOCKET(websocket, room: str, q: str | None = None):
                await websocket.accept()
        """,
    })
    assert problems_of(root) == []


# --- the CLI: one run, every problem, readable --------------------------------------------------

EVERYTHING_WRONG = {
    **INDEX,
    "routes/_layout.py": "prefix = '/v1'\n\ndef tags():\n    return []\n",
    "routes/a/_layout.py": "def middleware(request, call_next):\n    return None\n",
    "routes/a/route.py": "def GET(request):\n    return {}\n",
    "routes/b/_layout.py": "tags = [\n",
    "routes/c/_layout.py": "async def middleware(request):\n    return None\n",
    "routes/c/route.py": "def WEBSOCKET(websocket):\n    pass\n",
    "routes/d/route.py": "async def WEBSOCKET(socket):\n    pass\n",
    "app.py": "lifespans = None\nexception_handler = {}\nml_models = {}\n\n"
              "def configure():\n    pass\n",
}
EXPECTED = {
    ("INVALID_LAYOUT", "routes/_layout.py", 1),
    ("INVALID_LAYOUT", "routes/_layout.py", 3),
    ("INVALID_LAYOUT", "routes/a/_layout.py", 1),
    ("SYNTAX_ERROR", "routes/b/_layout.py", 1),
    ("INVALID_LAYOUT", "routes/c/_layout.py", 1),
    ("INVALID_HANDLER", "routes/c/route.py", 1),
    ("INVALID_HANDLER", "routes/d/route.py", 1),
    ("INVALID_APP", "app.py", 1),
    ("INVALID_APP", "app.py", 2),
    ("INVALID_APP", "app.py", 5),
}
PROBLEM_LINE = re.compile(r"^([A-Z_]+) (\S+):(\d+) (.+)$")


def test_build_reports_every_problem_in_one_run_with_file_line_and_hint(tmp_path):
    root = write_tree(tmp_path / "app", EVERYTHING_WRONG)
    assert located(problems_of(root)) == EXPECTED
    code, out = cli_build(root)
    assert code == 1
    assert "Traceback" not in out
    lines = out.splitlines()
    found = set()
    for number, line in enumerate(lines):
        match = PROBLEM_LINE.match(line)
        if match and match.group(1) in {"INVALID_LAYOUT", "INVALID_APP", "INVALID_HANDLER",
                                        "SYNTAX_ERROR"}:
            found.add((match.group(1), match.group(2), int(match.group(3))))
            assert lines[number + 1].startswith("  hint: "), line
            assert len(lines[number + 1]) > len("  hint: ") + 5
    assert found == EXPECTED
    assert f"{len(EXPECTED)} problems" in out
    assert not (root / ".cache").exists()  # nothing saved


def test_a_failed_build_keeps_the_previous_cache(tmp_path):
    root = write_tree(tmp_path / "app", {**INDEX, "routes/_layout.py": "tags = ['a']\n"})
    assert cli_build(root)[0] == 0
    before = (root / ".cache" / "manifest.json").read_bytes()
    write_tree(root, {"routes/_layout.py": "tagz = ['a']\n"})
    code, out = cli_build(root)
    assert code == 1 and "INVALID_LAYOUT routes/_layout.py:1" in out
    assert (root / ".cache" / "manifest.json").read_bytes() == before
