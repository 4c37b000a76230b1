"""A project's own segment types (SPEC 14.1): `params/hex.py` beside routes/ makes
`[color=hex]`, end to end: the build's checks, the cache, dispatch, OpenAPI, explain,
`routes --json`, `dev`'s watcher, two projects in one process, and the wheel."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tree
from fastapi.testclient import TestClient
from hatchling.builders.wheel import WheelBuilder

from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.project import from_package, from_path
from fastapi_route.runtime.app import create_app
from fastapi_route.runtime.devserver import Watcher

HEX = textwrap.dedent('''\
    pattern = "[0-9a-fA-F]+"
    description = "A colour as six hex digits"

    def match(value: str) -> bool:
        return len(value) == 6
''')
RGB = textwrap.dedent('''\
    description = "red, green or blue"

    def match(value):
        return value in ("red", "green", "blue")
''')
TREE = {
    "params/hex.py": HEX,
    "params/rgb.py": RGB,
    "params/_helpers.py": "X = 1\n",  # a helper of the folder, not a type
    "routes/colors/[color=hex]/route.py": '''
        def GET(request, color):
            return {"route": "hex", "color": color, "type": type(color).__name__}
    ''',
    "routes/colors/[c=rgb]/route.py": '''
        def GET(request, c: str):
            return {"route": "rgb", "c": c}
    ''',
    "routes/colors/[name]/route.py": '''
        def GET(request, name: str):
            return {"route": "name", "name": name}
    ''',
}


def cli(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--project", str(root)])
    return result.exit_code, result.output


@pytest.fixture
def colors(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "colors", TREE)


def served(root: Path, source: str = "cache") -> TestClient:
    if source == "cache":
        code, out = cli(root, "build")
        assert code == 0, out
    return TestClient(create_app(from_path(root), source=source))


# --- dispatch ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["cache", "scan"])
def test_match_decides_which_sibling_route_answers(colors: Path, source: str) -> None:
    with served(colors, source) as client:
        assert client.get("/colors/ff00aa").json() == {
            "route": "hex", "color": "ff00aa", "type": "str"}  # the handler gets the string
        assert client.get("/colors/red").json() == {"route": "rgb", "c": "red"}
        # match says no (five digits): the next route's turn.
        assert client.get("/colors/ff00a").json()["route"] == "name"
        # match would say yes (six characters), but the pattern refuses first.
        assert client.get("/colors/zzzzzz").json()["route"] == "name"


def test_a_type_alone_at_its_place_refuses_with_a_404(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {
        "params/hex.py": HEX,
        "routes/c/[color=hex]/route.py": "def GET(request, color):\n    return {'c': color}\n",
    })
    with served(root) as client:
        assert client.get("/c/00ff00").json() == {"c": "00ff00"}
        assert client.get("/c/nothex").status_code == 404


def test_two_projects_in_one_process_keep_their_own_types(tmp_path: Path) -> None:
    six = write_tree(tmp_path / "six", {
        "params/hex.py": HEX,
        "routes/[color=hex]/route.py": "def GET(request, color):\n    return 'hex'\n",
        "routes/[other]/route.py": "def GET(request, other):\n    return 'other'\n",
    })
    three = write_tree(tmp_path / "three", {
        "params/hex.py": HEX.replace("== 6", "== 3"),
        "routes/[color=hex]/route.py": "def GET(request, color):\n    return 'hex'\n",
        "routes/[other]/route.py": "def GET(request, other):\n    return 'other'\n",
    })
    with served(six) as a, served(three) as b:
        assert (a.get("/ff00aa").json(), a.get("/fff").json()) == ("hex", "other")
        assert (b.get("/ff00aa").json(), b.get("/fff").json()) == ("other", "hex")


def test_run_imports_the_params_file_and_loading_the_cache_does_not(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    root = write_tree(tmp_path / "p", {
        "params/hex.py": f"open({str(marker)!r}, 'a').write('x')\n" + HEX,
        "routes/[color=hex]/route.py": "def GET(request, color):\n    return color\n",
    })
    assert cli(root, "build")[0] == 0
    loaded = cache_io.load(root / ".cache", "routes")  # what `run` checks before importing
    assert [r.path for r in loaded.routes] == ["/{color:hex}"]
    code, out = cli(root, "status")
    assert code == 0 and "Stale:          no" in out, out
    assert not marker.exists()
    create_app(from_path(root))  # run's schedule imports every file the table needs, first
    assert marker.read_text() == "x"


def test_a_params_file_that_fails_to_import_stops_the_app_naming_it(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {
        "params/hex.py": "raise RuntimeError('boom')\n" + HEX,
        "routes/[color=hex]/route.py": "def GET(request, color):\n    return color\n",
    })
    assert cli(root, "build")[0] == 0
    with pytest.raises(Exception, match="params/hex.py"):
        create_app(from_path(root))


# --- build-time checks ---------------------------------------------------------------------


ROUTE = "def GET(request, color):\n    return color\n"


@pytest.mark.parametrize(("files", "where", "says"), [
    ({"params/int.py": HEX, "routes/[c=int]/route.py": ROUTE},
     "params/int.py:1", "'int' is a built-in segment type"),
    ({"params/my-type.py": HEX}, "params/my-type.py:1", "cannot name a segment type"),
    ({"params/hex.py": "pattern = '[0-9]+'\n"}, "params/hex.py:1",
     "defines no function match(value)"),
    ({"params/hex.py": "import re\nmatch = re.compile('x').fullmatch\n"}, "params/hex.py:2",
     "match is bound here but not defined as a function"),
    ({"params/hex.py": "def match(value, other):\n    return True\n"}, "params/hex.py:1",
     "match takes 2 parameters"),
    ({"params/hex.py": "def match():\n    return True\n"}, "params/hex.py:1",
     "match takes 0 parameters"),
    ({"params/hex.py": "async def match(value):\n    return True\n"}, "params/hex.py:1",
     "match is async"),
    ({"params/hex.py": "P = 'x'\npattern = P\ndef match(value):\n    return True\n"},
     "params/hex.py:2", "pattern must be a string literal"),
    ({"params/hex.py": "pattern = '[0-9'\ndef match(value):\n    return True\n"},
     "params/hex.py:1", "pattern is not a regular expression"),
    ({"params/hex.py": "description = 3\ndef match(value):\n    return True\n"},
     "params/hex.py:1", "description must be a string literal"),
])
def test_a_wrong_params_file_fails_the_build_at_its_line(
        tmp_path: Path, files: dict[str, str], where: str, says: str) -> None:
    root = write_tree(tmp_path / "p", {"routes/index.py": "def GET(request):\n    return 1\n",
                                       "routes/c/[color=hex]/route.py": ROUTE, **files})
    code, out = cli(root, "build")
    assert code == 1, out
    assert "INVALID_SEGMENT" in out and where in out and says in out, out
    assert "Traceback" not in out


def test_a_params_module_no_folder_uses_is_left_alone_but_its_name(tmp_path: Path) -> None:
    """A project that kept helpers in params/ before SPEC 14.1 (pydantic query models, say)
    builds as it did: a file no folder uses is not a type yet. Its name is still checked:
    params/int.py can never be one."""
    helper = "from pydantic import BaseModel\n\n\nclass Paging(BaseModel):\n    page: int = 1\n"
    root = write_tree(tmp_path / "p", {"routes/index.py": "def GET(request):\n    return 1\n",
                                       "params/paging.py": helper})
    code, out = cli(root, "build")
    assert code == 0, out
    write_tree(root, {"routes/pages/[n=paging]/route.py": "def GET(request, n):\n    return n\n"})
    code, out = cli(root, "build")
    assert code == 1 and "params/paging.py:1" in out and "defines no function match" in out
    (root / "routes/pages/[n=paging]/route.py").unlink()
    write_tree(root, {"params/int.py": helper})
    code, out = cli(root, "build")
    assert code == 1 and "'int' is a built-in segment type" in out, out


def test_an_unknown_type_names_the_folder_and_every_type_the_project_knows(
        colors: Path) -> None:
    write_tree(colors, {"routes/shades/[s=hsl]/route.py": "def GET(request, s):\n    return s\n"})
    code, out = cli(colors, "build")
    assert code == 1
    assert "INVALID_SEGMENT" in out and "routes/shades/[s=hsl]" in out
    assert "'hsl' is not a segment type" in out
    assert "int, uuid, float, hex, rgb, str" in out  # the project's own among them
    assert "params/<name>.py" in out


def test_two_folders_of_one_own_type_side_by_side_conflict(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {
        "params/hex.py": HEX,
        "routes/[a=hex]/route.py": "def GET(request, a):\n    return a\n",
        "routes/[b=hex]/route.py": "def GET(request, b):\n    return b\n",
    })
    code, out = cli(root, "build")
    assert code == 1 and "DYNAMIC_CONFLICT" in out, out


def test_an_own_type_gives_a_string_so_an_int_annotation_is_refused(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {
        "params/hex.py": HEX,
        "routes/[a=hex]/route.py": "def GET(request, a: int):\n    return a\n",
    })
    code, out = cli(root, "build")
    assert code == 1 and "INVALID_HANDLER" in out and "[a=hex]" in out, out


# --- the cache -----------------------------------------------------------------------------


def test_the_manifest_lists_the_params_files_and_an_edit_of_what_the_build_read_is_stale(
        colors: Path) -> None:
    assert cli(colors, "build")[0] == 0
    manifest = json.loads((colors / ".cache/manifest.json").read_text())
    assert manifest["param_files"] == ["params/hex.py", "params/rgb.py"]
    assert set(manifest["param_files"]) <= set(manifest["digests"])
    # match's body is run's (like a handler's body): no rebuild needed.
    write_tree(colors, {"params/hex.py": HEX.replace("== 6", "in (3, 6)")})
    status = json.loads(cli(colors, "status", "--json")[1])
    assert status["stale"] is False, status
    # the pattern is the build's: stale, naming the file.
    write_tree(colors, {"params/hex.py": HEX.replace("[0-9a-fA-F]+", "[0-9a-f]+")})
    status = json.loads(cli(colors, "status", "--json")[1])
    assert status["stale"] is True
    assert status["stale_files"]["declarations_changed"] == ["params/hex.py"]
    # a new type, and a removed one
    (colors / "params/rgb.py").unlink()
    write_tree(colors, {"params/hsl.py": RGB})
    status = json.loads(cli(colors, "status", "--json")[1])
    assert status["stale_files"]["added"] == ["params/hsl.py"]
    assert status["stale_files"]["removed"] == ["params/rgb.py"]


def test_a_record_of_a_type_the_manifest_does_not_list_is_refused(colors: Path) -> None:
    assert cli(colors, "build")[0] == 0
    manifest_file = colors / ".cache/manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["param_files"] = ["params/rgb.py"]
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(Exception, match=r"\[color=hex\]"):
        cache_io.load(colors / ".cache", "routes")


def test_a_manifest_naming_a_params_file_outside_params_is_refused(colors: Path) -> None:
    assert cli(colors, "build")[0] == 0
    manifest_file = colors / ".cache/manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["param_files"] = ["../evil.py"]
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(Exception, match="param_files"):
        cache_io.load(colors / ".cache", "routes")


# --- OpenAPI, explain, routes --------------------------------------------------------------


def test_openapi_shows_the_types_pattern_and_description(colors: Path) -> None:
    with served(colors) as client:
        paths = client.get("/openapi.json").json()["paths"]
    (hex_param,) = paths["/colors/{color}"]["get"]["parameters"]
    assert hex_param["description"] == "A colour as six hex digits"
    assert hex_param["schema"]["type"] == "string"
    assert hex_param["schema"]["pattern"] == "[0-9a-fA-F]+"
    (rgb_param,) = paths["/colors/{c}"]["get"]["parameters"]
    assert rgb_param["description"] == "red, green or blue"
    assert "pattern" not in rgb_param["schema"]


def test_explain_shows_each_type_asked_in_order(colors: Path) -> None:
    assert cli(colors, "build")[0] == 0
    code, out = cli(colors, "explain", "GET", "/colors/red", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["route"]["file"] == "routes/colors/[c=rgb]/route.py"
    said = [n for n in result["notes"] if "params/" in n]
    assert len(said) == 2
    assert "[color=hex] does not take 'red'" in said[0] and "pattern" in said[0]
    assert "[c=rgb] takes 'red': params/rgb.py's match said yes" in said[1]
    code, out = cli(colors, "explain", "GET", "/colors/ff00aa")
    assert "typed {color:hex} beats param {name}" in out, out


def test_routes_json_shows_the_type(colors: Path) -> None:
    assert cli(colors, "build")[0] == 0
    code, out = cli(colors, "routes", "--json")
    assert code == 0, out
    params = {r["file"]: r["params"] for r in json.loads(out)}
    assert params["routes/colors/[color=hex]/route.py"] == [{"name": "color", "type": "hex"}]
    # precedence: hex, rgb (name order), then [name]
    assert [r["file"].split("/")[2] for r in json.loads(out)] == [
        "[color=hex]", "[c=rgb]", "[name]"]


# --- dev, packaging ------------------------------------------------------------------------


def test_dev_restarts_when_a_params_file_is_saved(colors: Path) -> None:
    watcher = Watcher(from_path(colors), load_config(colors))
    assert watcher.sort({str(colors / "params/hex.py")}) == "restart"


def test_dev_serves_a_params_file_as_it_is_now(colors: Path) -> None:
    with served(colors, "scan") as client:
        assert client.get("/colors/fff").json()["route"] == "name"
    write_tree(colors, {"params/hex.py": HEX.replace("== 6", "in (3, 6)")})
    # What dev's restart does: a new process (here: a new project package) scans again.
    other = write_tree(colors.parent / "again", {})
    for f in colors.rglob("*.py"):
        write_tree(other, {str(f.relative_to(colors)): f.read_text()})
    with served(other, "scan") as client:
        assert client.get("/colors/fff").json()["route"] == "hex"


def test_the_wheel_carries_params_and_the_installed_app_serves_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "app", {
        "pyproject.toml": '''
            [build-system]
            requires = ["hatchling", "fastapi-route"]
            build-backend = "hatchling.build"

            [project]
            name = "colorsapp"
            version = "0.1.0"

            [tool.hatch.build.targets.wheel]
            packages = ["colorsapp"]

            [tool.hatch.build.targets.wheel.hooks.fastapi-route]
        ''',
        "colorsapp/__init__.py": "",
        **{f"colorsapp/{rel}": text for rel, text in TREE.items()},
    })
    (wheel,) = WheelBuilder(str(root)).build(directory=str(tmp_path / "out"),
                                             versions=["standard"])
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        assert {"colorsapp/params/hex.py", "colorsapp/params/rgb.py"} <= set(z.namelist())
        manifest = json.loads(z.read("colorsapp/.cache/manifest.json"))
        assert manifest["param_files"] == ["params/hex.py", "params/rgb.py"]
        z.extractall(site)
    # Installed: the package imported by its own name from site-packages (sys.path).
    monkeypatch.syspath_prepend(str(site))
    result = CliRunner().invoke(main, ["status", "--json", "--app", "colorsapp"])
    status = json.loads(result.output)
    assert status["valid"] is True and status["stale"] is False, status
    with TestClient(create_app(from_package("colorsapp"))) as client:
        assert client.get("/colors/ff00aa").json()["route"] == "hex"
        assert client.get("/colors/blue").json()["route"] == "rgb"
    assert "colorsapp.params.hex" in sys.modules  # under the app's package, as a route file


# --- the README ----------------------------------------------------------------------------


def test_the_readmes_example_does_what_it_says(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("### Your own segment types", 1)[1].split("\n### ", 1)[0]
    files = {}
    for block in re.findall(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL):
        first, _, rest = block.partition("\n")
        files[first.removeprefix("# ").strip()] = rest
    assert set(files) == {"params/hex.py", "routes/colors/[color=hex]/route.py",
                          "routes/colors/[name]/route.py"}
    root = write_tree(tmp_path / "readme", files)
    with served(root) as client:
        assert client.get("/colors/ff00aa").json() == {"hex": "ff00aa"}
        assert client.get("/colors/red").json() == {"name": "red"}
        assert client.get("/colors/000000").json() == {"name": "000000"}


# --- websockets, included trees, schedules -------------------------------------------------


def test_a_websocket_at_an_own_type_connects_only_where_match_says_yes(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "ws", {
        "params/hex.py": HEX,
        "routes/live/[color=hex]/route.py": '''
            async def WEBSOCKET(websocket, color):
                await websocket.accept()
                await websocket.send_json({"hex": color})
                await websocket.close()
        ''',
        "routes/live/[name]/route.py": '''
            async def WEBSOCKET(websocket, name: str):
                await websocket.accept()
                await websocket.send_json({"name": name})
                await websocket.close()
        ''',
    })
    with served(root) as client:
        with client.websocket_connect("/live/ff00aa") as ws:
            assert ws.receive_json() == {"hex": "ff00aa"}
        with client.websocket_connect("/live/red") as ws:
            assert ws.receive_json() == {"name": "red"}


def test_two_included_trees_with_their_own_hex_keep_them(tmp_path: Path) -> None:
    from fastapi import FastAPI

    import fastapi_route

    six = write_tree(tmp_path / "six", {
        "params/hex.py": HEX,
        "routes/[color=hex]/route.py": "def GET(request, color):\n    return 'six'\n",
    })
    three = write_tree(tmp_path / "three", {
        "params/hex.py": HEX.replace("== 6", "== 3"),
        "routes/[color=hex]/route.py": "def GET(request, color):\n    return 'three'\n",
    })
    for root in (six, three):
        assert cli(root, "build")[0] == 0
    host = FastAPI()
    fastapi_route.include(host, six, prefix="/a")
    fastapi_route.include(host, three, prefix="/b")
    with TestClient(host) as client:
        assert client.get("/a/ff00aa").json() == "six"
        assert client.get("/a/fff").status_code == 404
        assert client.get("/b/fff").json() == "three"
        assert client.get("/b/ff00aa").status_code == 404
        parameters = client.get("/openapi.json").json()["paths"]["/a/{color}"]["get"][
            "parameters"]
        assert parameters[0]["description"] == "A colour as six hex digits"


@pytest.mark.parametrize("lazy", [True, False])
def test_every_schedule_asks_the_type(colors: Path, lazy: bool) -> None:
    assert cli(colors, "build")[0] == 0
    with TestClient(create_app(from_path(colors), lazy=lazy)) as client:
        assert client.get("/colors/ff00aa").json()["route"] == "hex"
        assert client.get("/colors/blue").json()["route"] == "rgb"
        assert client.get("/colors/ff00a").json()["route"] == "name"


def test_explain_from_a_scan_asks_the_types_too(colors: Path) -> None:
    code, out = cli(colors, "explain", "GET", "/colors/ff00a", "--scan")
    assert code == 0, out
    assert "routes/colors/[name]/route.py" in out.splitlines()[1]
    assert "[color=hex] does not take 'ff00a': params/hex.py's match said no" in out


def _include_outcome(tmp_path: Path, folder: str, typed_first: bool) -> str:
    from fastapi import FastAPI

    import fastapi_route
    from fastapi_route.host import RouteConflict

    base = tmp_path / f"{folder}-{typed_first}"
    typed = write_tree(base / "typed", {
        "params/hex.py": HEX,
        f"routes/{folder}/route.py": "def GET(request, color):\n    return 'typed'\n",
    })
    plain = write_tree(base / "plain", {
        "routes/[name]/route.py": "def GET(request, name):\n    return 'name'\n",
    })
    host = FastAPI()
    try:
        for root in (typed, plain) if typed_first else (plain, typed):
            fastapi_route.include(host, root, prefix="/c", source="scan")
    except RouteConflict as exc:
        return "conflict: " + exc.message.split("\n", 1)[0]
    return "included"


@pytest.mark.parametrize("typed_first", [True, False])
def test_include_weighs_an_own_type_against_another_tree_as_a_built_in_one(
        tmp_path: Path, typed_first: bool) -> None:
    # Ranked as a typed segment, not as a [param] of the same shape as the other tree's.
    assert _include_outcome(tmp_path, "[color=hex]", typed_first) == _include_outcome(
        tmp_path, "[color=int]", typed_first)


@pytest.mark.slow
def test_a_running_dev_serves_a_saved_params_file(colors: Path) -> None:
    from servers import Server, poll

    def route_of(server: Server, path: str) -> object:
        status, _, content = server.get(path)
        return json.loads(content)["route"] if status == 200 else status

    args = ["fastapi_route", "dev", "--project", str(colors), "--host", "127.0.0.1",
            "--port", "{port}"]
    with Server(args, cwd=colors.parent) as server:
        server.wait_ready("/colors/red")
        assert route_of(server, "/colors/fff") == "name"
        write_tree(colors, {"params/hex.py": HEX.replace("== 6", "in (3, 6)")})
        poll(lambda: route_of(server, "/colors/fff"), lambda got: got == "hex",
             server=server)
        assert route_of(server, "/colors/ff00aa") == "hex"
        assert server.running()
