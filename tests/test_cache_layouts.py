"""SPEC 9 and 4, layouts in the cache: each record names the layouts above its file.

After a build the loaded routes carry their layouts, outermost first, and an app served from
the cache applies them. A forged routes.dat whose record names any other list (a layout not
above the file, one the build did not list, a helper, a reordered or shortened list) is
refused with a CacheError before anything is imported: importing a layout runs it. Adding or
removing a `_layout.py` makes the cache stale; editing one needs no rebuild.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tree
from fastapi.testclient import TestClient

from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.errors import CacheError
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline import codec
from fastapi_route.pipeline.build import build
from fastapi_route.project import Project
from fastapi_route.runtime.app import StaleCacheError, create_app
from fastapi_route.table import RouteEntry

MEND = "fastapi-route clean && fastapi-route build --force"


def tree(log: Path) -> dict[str, str]:
    """A tree whose every file, on import, appends its path to `log`."""

    def marked(source: str) -> str:
        return (
            f"with open({str(log)!r}, 'a') as _log:\n"
            "    _log.write(__file__ + '\\n')\n\n"
            + source
        )

    return {
        "routes/_layout.py": marked("tags = ['root']\n"),
        "routes/index.py": marked("def GET(request):\n    return {}\n"),
        "routes/(g)/_layout.py": marked("tags = ['group']\n"),
        "routes/(g)/shop/_layout.py": marked("tags = ['shop']\n"),
        "routes/(g)/shop/helper.py": marked("X = 1\n"),
        "routes/(g)/shop/[item]/route.py": marked(
            "def GET(request, item: str):\n    return {'item': item}\n"
        ),
        "routes/other/_layout.py": marked("tags = ['other']\n"),
        "routes/other/route.py": marked("def GET(request):\n    return {}\n"),
    }


SHOP = ("routes/_layout.py", "routes/(g)/_layout.py", "routes/(g)/shop/_layout.py")
OTHER = ("routes/_layout.py", "routes/other/_layout.py")


@pytest.fixture
def built(tmp_path) -> tuple[Path, Path]:
    """A built project and the file its modules log their imports to (absent: none yet)."""
    log = tmp_path / "imports.log"
    root = write_tree(tmp_path / "app", tree(log))
    build(root, load_config(root))
    assert not log.exists()  # the build runs nothing
    return root, log


def test_loaded_routes_carry_their_layouts_outermost_first(built):
    root, _ = built
    loaded = cache_io.load(root / ".cache", "routes")
    by_path = {r.path: r.layouts for r in loaded.routes}
    assert by_path == {
        "/": ("routes/_layout.py",),
        "/shop/{item}": SHOP,
        "/other": OTHER,
    }
    assert sorted(loaded.manifest.layout_files) == sorted({*SHOP, *OTHER})


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_an_app_from_the_cache_applies_them(built, lazy):
    root, _ = built
    client = TestClient(create_app(Project(root), source="cache", lazy=lazy))
    assert client.get("/shop/x").json() == {"item": "x"}
    spec = client.get("/openapi.json").json()
    assert spec["paths"]["/shop/{item}"]["get"]["tags"] == ["root", "group", "shop"]
    assert spec["paths"]["/other"]["get"]["tags"] == ["root", "other"]
    assert spec["paths"]["/"]["get"]["tags"] == ["root"]


# --- forged records ---------------------------------------------------------------------------


def forge(root: Path, change: dict[str, tuple[str, ...]], **manifest_changes: object) -> None:
    """Rewrite routes.dat with the layouts of the routes at the given paths replaced, and the
    manifest's hash (and any other field) to match: what someone who can write the cache
    could do."""
    cache = root / ".cache"
    routes = codec.decode((cache / "routes.dat").read_bytes())
    forged = [r._replace(layouts=change.get(r.path, r.layouts)) for r in routes]
    data, size = codec.encode(forged, 6)
    manifest = json.loads((cache / "manifest.json").read_text())
    manifest.update(routes_sha256=hashlib.sha256(data).hexdigest(), original_size=size,
                    compressed_size=len(data), **manifest_changes)
    (cache / "routes.dat").write_bytes(data)
    (cache / "manifest.json").write_text(json.dumps(manifest))


def assert_refused_and_nothing_imported(root: Path, log: Path) -> None:
    with pytest.raises(CacheError) as info:
        cache_io.load(root / ".cache", "routes")
    message = str(info.value)
    assert "layouts" in message and MEND in message
    for lazy in (False, True):
        with pytest.raises(CacheError):
            create_app(Project(root), source="cache", lazy=lazy)
    assert not log.exists(), f"imported: {log.read_text()}"
    status = CliRunner().invoke(main, ["status", "--project", str(root)])
    assert status.exit_code == 1
    assert "Traceback" not in status.output and "tampered" in status.output


FORGERIES = {
    # a real layout, listed by the build, but not above the file
    "a sibling folder's layout": {"/": ("routes/_layout.py", "routes/other/_layout.py")},
    "a layout below the file": {"/": ("routes/_layout.py", "routes/(g)/_layout.py")},
    "another route's chain": {"/other": SHOP},
    # the right layouts in the wrong order, or some left out, or one twice
    "inner first": {"/shop/{item}": tuple(reversed(SHOP))},
    "one left out": {"/shop/{item}": (SHOP[0], SHOP[2])},
    "none at all": {"/shop/{item}": ()},
    "one twice": {"/other": (*OTHER, OTHER[1])},
    # files that are not layouts the build found
    "a helper beside a layout": {"/shop/{item}": (*SHOP, "routes/(g)/shop/helper.py")},
    "a route file": {"/": ("routes/_layout.py", "routes/other/route.py")},
    "outside the routes": {"/": ("routes/_layout.py", "../evil/_layout.py")},
    "an absolute path": {"/": ("routes/_layout.py", "/tmp/_layout.py")},
    "a dotted path": {"/": ("routes/_layout.py", "routes/other/../_layout.py")},
}


@pytest.mark.parametrize("case", FORGERIES)
def test_a_record_naming_other_layouts_is_refused_and_imports_nothing(built, case):
    root, log = built
    forge(root, FORGERIES[case])
    assert_refused_and_nothing_imported(root, log)


def test_a_layout_above_the_file_that_the_build_did_not_list_is_refused(built):
    root, log = built
    # A _layout.py appears above the route after the build; a forged record names it.
    write_tree(root, {"routes/(g)/shop/[item]/_layout.py": f"open({str(log)!r}, 'a')\n"})
    forge(root, {"/shop/{item}": (*SHOP, "routes/(g)/shop/[item]/_layout.py")})
    assert_refused_and_nothing_imported(root, log)


def test_an_unforged_cache_of_the_same_tree_loads(built):
    """The control for the forgeries above: re-encoding the very table changes nothing."""
    root, log = built
    forge(root, {})
    assert cache_io.load(root / ".cache", "routes").routes
    assert not log.exists()
    create_app(Project(root), source="cache", lazy=False)
    assert log.exists()  # eager mode imports the project's files, layouts included
    imported = log.read_text()
    assert "routes/other/_layout.py" in imported and "helper.py" not in imported


def test_a_record_from_the_previous_format_is_refused():
    """Records are seven fields, the last the layout list; a six-field one is malformed."""
    with pytest.raises(ValueError):
        RouteEntry.from_record(("GET", "/", "routes/index.py", 1, [], None))
    with pytest.raises(ValueError):
        RouteEntry.from_record(("GET", "/", "routes/index.py", 1, [], None, "routes/_layout.py"))
    with pytest.raises(ValueError):
        RouteEntry.from_record(("GET", "/", "routes/index.py", 1, [], None, [3]))


# --- staleness ----------------------------------------------------------------------------------


def status_json(root: Path) -> dict[str, object]:
    result = CliRunner().invoke(main, ["status", "--json", "--project", str(root)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_adding_a_layout_after_a_build_makes_the_cache_stale(built):
    root, _ = built
    assert status_json(root)["stale"] is False
    write_tree(root, {"routes/(g)/shop/[item]/_layout.py": "tags = ['item']\n"})
    status = status_json(root)
    assert status["stale"] is True
    assert "routes/(g)/shop/[item]/_layout.py" in str(status["stale_reason"])
    assert "added" in str(status["stale_reason"])
    with pytest.raises(StaleCacheError) as info:
        create_app(Project(root), source="cache", strict=True)
    assert "routes/(g)/shop/[item]/_layout.py" in str(info.value)
    # and a new build takes it in
    build(root, load_config(root))
    assert status_json(root)["stale"] is False
    routes = cache_io.load(root / ".cache", "routes").routes
    assert {r.path: r.layouts for r in routes}["/shop/{item}"] == (
        *SHOP, "routes/(g)/shop/[item]/_layout.py"
    )


def test_removing_a_layout_after_a_build_makes_the_cache_stale(built):
    root, _ = built
    (root / "routes" / "other" / "_layout.py").unlink()
    status = status_json(root)
    assert status["stale"] is True
    assert "removed" in str(status["stale_reason"])
    assert "routes/other/_layout.py" in str(status["stale_reason"])
    text = CliRunner().invoke(main, ["status", "--project", str(root)]).output
    assert "Stale" in text and "routes/other/_layout.py" in text


def test_editing_a_layout_needs_no_rebuild(built):
    root, _ = built
    write_tree(root, {"routes/other/_layout.py": "tags = ['renamed']\n"})
    assert status_json(root)["stale"] is False
    client = TestClient(create_app(Project(root), source="cache", strict=True))
    assert client.get("/openapi.json").json()["paths"]["/other"]["get"]["tags"] == [
        "root", "renamed"
    ]
