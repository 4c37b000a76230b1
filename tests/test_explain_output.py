"""What `fastapi-route explain` prints (issue 17, parts 7(a) and 9): URLs and segment values
with control characters shown escaped (the JSON stays exact); a project file that raises at
import, or a handler FastAPI refuses, as one message without a traceback; and for a websocket
route only the middleware that runs for a websocket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tree
from fastapi.testclient import TestClient
from servers import run_cli

from fastapi_route.cli import main
from fastapi_route.errors import FastAPIRouteError
from fastapi_route.explain import explain, render
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app

TREE = {
    "routes/a/[x]/route.py": """
        def GET(request, x):
            return {"x": x}
    """,
    "routes/files/[...rest]/route.py": """
        def GET(request, rest):
            return {"rest": rest}
    """,
    "routes/users/route.py": """
        def GET(request):
            return {}
    """,
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("output") / "app", TREE)


def cli(root: Path, *args: str) -> tuple[int, str]:
    # color=True: as on a terminal, where click does not strip escape sequences
    result = CliRunner().invoke(main, ["explain", "--scan", "--project", str(root), *args],
                                color=True)
    return result.exit_code, result.output


# --------------------------------------------------------------------------- control characters

HOSTILE = [
    ("/a/%1b%5b2J", "\x1b[2J"),  # ESC [2J: clears the terminal
    ("/a/%07%08%0d%7f", "\x07\x08\r\x7f"),  # bell, backspace, carriage return, DEL
    ("/a/\x1b]0;title\x07", "\x1b]0;title\x07"),  # set the window title, given raw
    ("/a/%c2%9b31m", "\x9b31m"),  # the one-character CSI (C1)
    ("/a/\udcff%ff", "\ufffd\ufffd"),  # not UTF-8: a byte from argv (a lone surrogate), %ff
]


@pytest.mark.parametrize(("url", "value"), HOSTILE)
def test_text_output_shows_control_characters_escaped(root: Path, url: str,
                                                      value: str) -> None:
    rest = url[len("/a/"):]
    # a param, a catch-all, a 404, a redirect (its Location)
    for target in (url, "/files/x/" + rest, "/nowhere/" + rest, url + "/"):
        code, output = cli(root, "GET", target)
        assert code == 0, output
        assert all(c == "\n" or c.isprintable() for c in output), repr(output)
    _, output = cli(root, "GET", url)
    assert "routes/a/[x]/route.py" in output
    assert any(f"\\x{c}" in output for c in ("1b", "07", "9b", "ff")), output


@pytest.mark.parametrize(("url", "value"), HOSTILE[:4])
def test_json_output_stays_exact(root: Path, url: str, value: str) -> None:
    code, output = cli(root, "--json", "GET", url)
    assert code == 0, output
    data = json.loads(output)
    assert data["url"] == url
    assert data["segments"][1]["text"] == value and data["segments"][1]["value"] == value


def test_render_escapes_every_url_and_value(root: Path) -> None:
    e = explain(root, "GET", "/files/\x1b[1m/b\x07", source="scan")
    text = render(e)
    assert "\x1b" not in text and "\x07" not in text
    assert "/files/\\x1b[1m/b\\x07" in text
    assert e.segments[-1].value == ["\x1b[1m", "b\x07"]  # the data stays exact


# --------------------------------------------------------------------------- import errors

BROKEN_LAYOUT = {
    "routes/sub/route.py": """
        def GET(request):
            return {}
    """,
    "routes/_layout.py": """
        import os

        _x = 1
        raise RuntimeError("layout is broken")
    """,
}


def test_a_layout_that_raises_at_import_is_one_message(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", BROKEN_LAYOUT)
    result = run_cli(["explain", "--scan", "--project", str(root), "GET", "/sub"], cwd=tmp_path)
    output = result.stdout  # and stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    assert output.count("layout is broken") == 1, output
    assert "routes/_layout.py:4" in output and "RuntimeError: layout is broken" in output
    assert "hint:" in output
    with pytest.raises(FastAPIRouteError, match=r"routes/_layout.py:4 .*layout is broken"):
        explain(root, "GET", "/sub", source="scan")


def test_a_route_file_that_raises_at_import_is_one_message(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {
        "routes/_helpers/db.py": "def connect():\n    return {}['missing']\n",
        "routes/sub/route.py": """
            from .._helpers.db import connect

            connection = connect()


            def GET(request):
                return {}
        """,
    })
    code, output = cli(root, "GET", "/sub")
    assert code == 1, output
    assert "Traceback" not in output, output
    assert "routes/sub/route.py:3" in output and "KeyError" in output, output
    assert "routes/_helpers/db.py:2" in output, output  # where it was raised
    assert "hint:" in output


# --------------------------------------------------------------------------- FastAPI's refusal

PLAIN = {
    "routes/plain/route.py": """
        class Thing:
            pass


        def GET(request, t: Thing):
            return {}
    """,
    "routes/fine/route.py": """
        def GET(request):
            return {}
    """,
}


def test_a_handler_fastapi_refuses_is_one_clear_message(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", PLAIN)
    result = run_cli(["explain", "--scan", "--project", str(root), "GET", "/plain"],
                     cwd=tmp_path)
    output = result.stdout  # and stderr
    assert result.returncode == 0, output  # explained: the route answers 500 (decisions.md)
    assert "Traceback" not in output, output
    assert "_fastapi_route_project_" not in output, output
    assert "Invalid args for response field" not in output, output
    assert "routes/plain/route.py:5" in output
    assert "cannot be registered with FastAPI" in output and "t: Thing" in output
    assert "500" in output and "hint:" in output
    assert output.count("cannot be registered") == 1, output
    e = explain(root, "GET", "/plain", source="scan")
    assert (e.outcome, e.status) == ("route", 500)
    assert e.error is not None and "t: Thing" in e.error
    assert "_fastapi_route_project_" not in e.error
    code, output = cli(root, "--json", "GET", "/plain")
    assert code == 0 and "t: Thing" in json.loads(output)["error"]


def test_the_annotation_is_shown_as_written(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {
        "routes/many/route.py": """
            from typing import Optional


            class Thing:
                pass


            async def POST(request, ok: int, things: Optional[list[Thing]] = None):
                return {}
        """,
    })
    e = explain(root, "POST", "/many", source="scan")
    assert e.error is not None and e.status == 500
    assert "things: Optional[list[Thing]]" in e.error, e.error
    assert "_fastapi_route_project_" not in e.error


# --------------------------------------------------------------------------- websocket middleware

# Each middleware writes its name to the file $SEEN (indented as the sources below, which
# `write_tree` dedents).
SEEN = """
        import os


        def seen(name):
            with open(os.environ["SEEN"], "a") as f:
                f.write(name + "\\n")

"""

WEBSOCKETS = {
    "routes/live/route.py": """
        async def WEBSOCKET(websocket):
            await websocket.accept()
            await websocket.close()
    """,
    "routes/page/route.py": """
        def GET(request):
            return {}
    """,
    "routes/_layout.py": SEEN + """
        async def middleware(request, call_next):
            seen("layout")
            return await call_next(request)
    """,
    "middleware.py": SEEN + """
        async def middleware(request, call_next):
            seen("middleware.py")
            return await call_next(request)
    """,
    "app.py": SEEN + """
        from starlette.middleware import Middleware
        from starlette.middleware.base import BaseHTTPMiddleware
        from starlette.middleware.gzip import GZipMiddleware


        class Raw:
            def __init__(self, app):
                self.app = app

            async def __call__(self, scope, receive, send):
                seen("Raw " + scope["type"])
                await self.app(scope, receive, send)


        async def timing(request, call_next):
            seen("timing")
            return await call_next(request)


        middleware = [Middleware(Raw), Middleware(BaseHTTPMiddleware, dispatch=timing),
                      Middleware(GZipMiddleware)]
    """,
    "config.py": """
        cors_enabled = True
    """,
}


def test_a_websocket_route_lists_only_the_middleware_that_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree(tmp_path / "app", WEBSOCKETS)
    page = explain(root, "GET", "/page", source="scan")
    assert [m.name for m in page.middleware] == [
        "CORSMiddleware", "Raw", "timing", "GZipMiddleware", "middleware", "middleware"]
    live = explain(root, "WS", "/live", source="scan")
    assert live.outcome == "route"
    assert [(m.name, m.origin) for m in live.middleware] == [("Raw", "app.py")]
    lines = render(live).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Middleware"))
    assert "sees the websocket" in lines[at]
    assert lines[at + 1:lines.index("", at)] == ["  Raw  (app.py)"]
    # What the app runs for each: the websocket passes every other one untouched.
    record = tmp_path / "seen.txt"
    monkeypatch.setenv("SEEN", str(record))
    with TestClient(create_app(Project(root), source="scan")) as client:
        record.write_text("")  # the lifespan's scope
        with client.websocket_connect("/live"):
            pass
        assert record.read_text().split("\n")[:-1] == ["Raw websocket"]
        record.write_text("")
        assert client.get("/page").status_code == 200
        assert record.read_text().split("\n")[:-1] == [
            "Raw http", "timing", "middleware.py", "layout"]
