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

from fastapi_route.cli import main
from fastapi_route.explain import explain, render

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
