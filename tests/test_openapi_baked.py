"""SPEC 13.2: the OpenAPI document made at build. `fastapi-route openapi` makes it in a child
process; `build = {"openapi": True}` stores it beside the cache, hashed and tied to the cache,
to the fastapi-route, FastAPI and pydantic versions, to FastAPI's arguments from config.py and to
the project modules the app imported; `run` serves those bytes while they fit, without
making a route real, and otherwise makes it at runtime after one warning; `status` shows it."""

from __future__ import annotations

import errno
import hashlib
import importlib.metadata
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import write_tree
from fastapi import FastAPI
from fastapi.testclient import TestClient
from packaging_helpers import Wheelhouse, build_wheelhouse
from test_full_disk import FaultyOS, restore, snapshot
from test_hook import ROUTES, build_wheel, hook_for, initialize, make_app, read_wheel
from test_packaging_e2e import SAMPLE_PROJECT, build_app, copy_project, only

from fastapi_route import __version__ as our_version
from fastapi_route import include
from fastapi_route.cli import main
from fastapi_route.pipeline import store
from fastapi_route.pipeline.baked_openapi import BakedDocument
from fastapi_route.pipeline.store import MANIFEST_FILE, OPENAPI_FILE
from fastapi_route.runtime.app import create_app, runtime_of
from hatch_fastapi_route.plugin import FastAPIRouteBuildError

TREE = {
    "config.py": """
        app_name = "Shop"
        build = {"openapi": True}
    """,
    # configure replaces app.openapi (FastAPI's "Extending OpenAPI") and counts its calls
    "app.py": """
        print("app.py imported")  # what the app prints is not the document

        calls = []


        def configure(app):
            described = app.openapi

            def openapi():
                calls.append(1)
                document = described()
                document["info"]["x-logo"] = "configured"
                return document

            app.openapi = openapi
    """,
    "routes/items/route.py": """
        from pydantic import BaseModel


        class Item(BaseModel):
            name: str
            price: float


        def GET(request) -> list[Item]:
            \"\"\"Every item.\"\"\"
            return []


        def POST(request, item: Item) -> Item:
            return item
    """,
    "routes/items/[item_id]/route.py": """
        def GET(request, item_id: int):
            return {"item_id": item_id}
    """,
}


def cli(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--project", str(root)])
    return result.exit_code, result.output


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """The tree, built with its document."""
    root = write_tree(tmp_path / "app", TREE)
    code, out = cli(root, "build")
    assert code == 0, out
    return root


def made_real(app: FastAPI) -> list[str]:
    return [lazy.record.path for lazy in runtime_of(app).file_routes.lazy
            if lazy.real is not None]


def runtime_document(root: Path, **client: Any) -> bytes:
    """What the app answers without a document made at build (a scan, as dev serves)."""
    return TestClient(create_app(root, source="scan"), **client).get("/openapi.json").content


def openapi_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "fastapi_route" and "OpenAPI document" in r.getMessage()]


def manifest_of(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / ".cache" / MANIFEST_FILE).read_text())
    return data


# --- the command ------------------------------------------------------------------------------


def test_the_command_prints_what_the_app_serves_configure_included(built: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "fastapi_route", "openapi", "--project",
                           str(built)], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert b"child process" in done.stderr and b"runs the app's code" in done.stderr
    assert b"app.py imported" in done.stderr
    served = TestClient(create_app(built)).get("/openapi.json").content
    assert done.stdout == served
    document = json.loads(done.stdout)
    assert document["info"]["x-logo"] == "configured"  # configure's openapi, in the child
    assert document["paths"]["/items"]["get"]["summary"] == "Every item."


def test_the_command_writes_a_file_and_scans_without_a_cache(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", TREE)
    code, out = cli(root, "openapi")
    assert code == 1 and "fastapi-route build" in out  # no cache: as `run`
    target = tmp_path / "openapi.json"
    code, out = cli(root, "openapi", "--scan", "-o", str(target))
    assert code == 0, out
    assert target.read_bytes() == runtime_document(root)


def test_an_import_error_in_the_child_exits_1_naming_the_file(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {
        **TREE, "routes/broken/route.py": "import not_installed_anywhere\n\n\n"
                                         "def GET(request):\n    return 1\n",
    })
    code, out = cli(root, "openapi", "--scan")
    assert code == 1
    assert "routes/broken/route.py" in out and "not_installed_anywhere" in out
    assert "Traceback" not in out


def test_configure_failing_in_the_child_names_its_line(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {**TREE, "app.py": """
        def configure(app):
            raise RuntimeError("no database")
    """})
    code, out = cli(root, "openapi", "--scan")
    assert code == 1
    assert "app.py:2" in out and "no database" in out and "Traceback" not in out


def test_configure_calling_sys_exit_names_its_line_and_message(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {**TREE, "app.py": """
        import sys


        def configure(app):
            sys.exit("missing DATABASE_URL")
    """})
    code, out = cli(root, "openapi", "--scan")
    assert code == 1
    assert "app.py:5" in out and "missing DATABASE_URL" in out, out
    assert "no result" not in out and "Traceback" not in out


def test_the_current_folder_is_not_on_the_childs_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from the project root, as `run` is: a project's email.py is not the standard
    library's there either."""
    root = write_tree(tmp_path / "app", {
        **TREE, "email.py": 'raise RuntimeError("the project\'s email.py was imported")\n',
    })
    monkeypatch.chdir(root)
    code, out = cli(root, "openapi", "--scan")
    assert code == 0, out
    assert "email.py was imported" not in out


def test_a_project_folder_imported_absolutely_is_named_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`from lib.models import Item` imports from the project root only when it is the
    current folder; `run` cannot import it, so neither does the child, and the hint is not
    to install `lib`."""
    root = write_tree(tmp_path / "app", {
        **TREE,
        "lib/models.py": "from pydantic import BaseModel\n\n\nclass Item(BaseModel):\n"
                         "    name: str\n",
        "routes/lib/route.py": "from lib.models import Item\n\n\ndef GET(request) -> Item:\n"
                               "    return Item(name='x')\n",
    })
    monkeypatch.chdir(root)
    for command in ("openapi", "build"):
        code, out = cli(root, command, *(["--scan"] if command == "openapi" else []))
        assert code == 1, out
        assert "routes/lib/route.py" in out and "project's own folder lib/" in out, out
        assert "relatively" in out and "[build-system].requires" not in out, out
        assert "Traceback" not in out


# --- build ------------------------------------------------------------------------------------


def test_build_stores_the_document_with_its_hash_fingerprint_and_versions(built: Path) -> None:
    body = (built / ".cache" / OPENAPI_FILE).read_bytes()
    manifest = manifest_of(built)
    record = manifest["openapi"]
    assert record["sha256"] == hashlib.sha256(body).hexdigest()
    assert record["size"] == len(body)
    assert record["fingerprint"] == manifest["fingerprint"]
    assert record["versions"] == {"fastapi-route": our_version,
                                  "fastapi": importlib.metadata.version("fastapi"),
                                  "pydantic": importlib.metadata.version("pydantic")}
    assert len(record["arguments"]) == 64
    assert record["modules"] == {}  # app.py and the route files are tracked otherwise
    assert record["openapi_url"] == "/openapi.json"
    assert body == runtime_document(built)


def test_a_build_without_the_setting_removes_the_document(built: Path) -> None:
    write_tree(built, {"config.py": 'app_name = "Shop"\n'})
    code, out = cli(built, "build")
    assert code == 0, out
    assert not (built / ".cache" / OPENAPI_FILE).exists()
    assert "openapi" not in manifest_of(built)


def test_a_failed_document_keeps_the_previous_cache(built: Path) -> None:
    before = {p.name: p.read_bytes() for p in (built / ".cache").iterdir()}
    write_tree(built, {"routes/new/route.py": "import not_installed_anywhere\n\n\n"
                                              "def GET(request):\n    return 1\n"})
    code, out = cli(built, "build")
    assert code == 1
    assert "routes/new/route.py" in out and "'not_installed_anywhere'" in out
    assert "[build-system].requires" in out and "build.openapi" in out
    assert "Traceback" not in out
    assert {p.name: p.read_bytes() for p in (built / ".cache").iterdir()} == before


def test_openapi_must_be_a_bool(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {**TREE, "config.py": 'build = {"openapi": "yes"}\n'})
    code, out = cli(root, "build")
    assert code == 1 and "openapi" in out


@pytest.mark.parametrize("document", [b'{"new": 1}', None], ids=["changed", "dropped"])
def test_a_fault_at_any_call_of_the_save_keeps_the_previous_cache_and_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, document: bytes | None
) -> None:
    """openapi.json is swapped with routes.dat under the same rules (test_full_disk): a save
    that fails at any call leaves the previous three files, byte for byte."""
    cache = tmp_path / ".cache"
    store.save(cache, b"old data", b"old manifest", document=b'{"old": 1}')
    before = snapshot(cache)
    new = {".gitignore": b"*\n", MANIFEST_FILE: b"new manifest", "routes.dat": b"new data",
           **({OPENAPI_FILE: document} if document is not None else {})}
    fail_at = 0
    while True:
        fail_at += 1
        faulty = FaultyOS(fail_at, errno.EIO)
        error: store.SaveError | None = None
        with monkeypatch.context() as patched:
            patched.setattr(store, "os", faulty)
            try:
                store.save(cache, b"new data", b"new manifest", document=document)
            except store.SaveError as exc:
                error = exc
        if faulty.fired is None:
            break
        where = f"EIO at call {fail_at} of {faulty.calls}"
        if error is None:  # the new cache is in; an old file set aside stays a temp file
            assert faulty.fired.startswith("unlink(.") and ".old" in faulty.fired, where
            assert {n: b for n, b in snapshot(cache).items() if not n.endswith(".tmp")} == new
        else:
            assert "the previous build is kept" in str(error), where
            assert snapshot(cache) == before, where
        restore(cache, before)
        assert fail_at < 100
    assert snapshot(cache) == new


# --- run --------------------------------------------------------------------------------------


def test_run_serves_the_stored_bytes_without_making_a_route_real(
    built: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(built)  # as `run` makes it (warm: the warm-up starts with the lifespan)
    client = TestClient(app)
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        answer = client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == (built / ".cache" / OPENAPI_FILE).read_bytes()
    assert made_real(app) == []
    assert sys.modules[runtime_of(app).modules.load("app.py").__name__].calls == []
    assert openapi_warnings(caplog) == []
    # app.openapi() called in-process still makes it from the routes
    assert app.openapi()["info"]["x-logo"] == "configured"
    assert sorted(made_real(app)) == ["/items", "/items", "/items/{item_id}"]


def test_a_scan_never_serves_the_stored_document(
    built: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """dev (and create_app(source="scan")) makes the document from the tree it scanned."""
    (built / ".cache" / OPENAPI_FILE).write_bytes(b'{"stored": true}')
    app = create_app(built, source="scan")
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        document = TestClient(app).get("/openapi.json").json()
    assert "stored" not in document and "/items" in document["paths"]
    assert made_real(app) != [] and openapi_warnings(caplog) == []


def test_a_root_path_is_added_to_servers_as_fastapi_adds_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = write_tree(tmp_path / "app", {
        **TREE, "config.py": """
            build = {"openapi": True}
            fastapi = {"servers": [{"url": "https://example.com"}]}
        """,
    })
    assert cli(root, "build")[0] == 0
    for root_path in ("/proxy", "/proxy/"):
        app = create_app(root)
        with caplog.at_level(logging.WARNING, logger="fastapi_route"):
            baked = TestClient(app, root_path=root_path).get("/openapi.json")
        assert baked.content == runtime_document(root, root_path=root_path)
        assert baked.json()["servers"] == [{"url": "/proxy"}, {"url": "https://example.com"}]
        assert made_real(app) == [] and openapi_warnings(caplog) == []


def test_a_tampered_document_is_refused_and_made_at_runtime_once_warned(
    built: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stored = built / ".cache" / OPENAPI_FILE
    stored.write_bytes(stored.read_bytes().replace(b'"Shop"', b'"Evil"'))
    client = TestClient(create_app(built))
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        first = client.get("/openapi.json")
        second = client.get("/openapi.json")
    assert first.content == second.content == runtime_document(built)
    (warning,) = openapi_warnings(caplog)
    assert "SHA-256" in warning
    assert json.loads(cli(built, "status", "--json")[1])["openapi"]["state"] == "invalid"


@pytest.mark.parametrize("change", ["versions", "our version", "route body", "config.py",
                                    "no document"])
def test_a_document_that_no_longer_fits_is_made_at_runtime_after_one_warning(
    built: Path, caplog: pytest.LogCaptureFixture, change: str
) -> None:
    expected = {"versions": "fastapi 0.1.0 made it", "route body": "routes/items/route.py",
                "our version": f"fastapi-route 0.0.1 made it, {our_version} is installed",
                "config.py": "config.py changed", "no document": "holds no OpenAPI document"}
    manifest = manifest_of(built)
    if change == "versions":  # as if FastAPI had been upgraded since the build
        manifest["openapi"]["versions"]["fastapi"] = "0.1.0"
    elif change == "our version":  # fastapi-route upgraded: its document may differ
        manifest["openapi"]["versions"]["fastapi-route"] = "0.0.1"
    elif change == "no document":  # built by something that did not make it
        del manifest["openapi"]
    (built / ".cache" / MANIFEST_FILE).write_text(json.dumps(manifest))
    if change == "route body":  # not stale for the table, but the summary changes
        route = built / "routes/items/route.py"
        route.write_text(route.read_text().replace("Every item.", "All the items."))
    elif change == "config.py":
        write_tree(built, {"config.py": 'app_name = "Shop 2"\nbuild = {"openapi": True}\n'})
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        app = create_app(built)
        client = TestClient(app)
        first = client.get("/openapi.json")
        client.get("/openapi.json")
    assert first.content == runtime_document(built)
    (warning,) = openapi_warnings(caplog)
    assert expected[change] in warning
    if change != "no document":
        status = json.loads(cli(built, "status", "--json")[1])["openapi"]
        assert status["state"] == "stale" and expected[change] in status["reason"]


def test_fastapi_arguments_from_the_environment_are_compared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """config.py's bytes are the build's, but the version it computes is not."""
    root = write_tree(tmp_path / "app", {**TREE, "config.py": """
        import os

        app_name = "Shop"
        version = os.environ.get("APP_VERSION", "1.0.0")
        build = {"openapi": True}
    """})
    monkeypatch.delenv("APP_VERSION", raising=False)
    assert cli(root, "build")[0] == 0
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        assert TestClient(create_app(root)).get("/openapi.json").json()["info"]["version"] \
            == "1.0.0"
    assert openapi_warnings(caplog) == []
    monkeypatch.setenv("APP_VERSION", "2.0.0")
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        app = create_app(root)
        first = TestClient(app).get("/openapi.json")
    assert first.json()["info"]["version"] == "2.0.0"
    assert first.content == runtime_document(root)
    (warning,) = openapi_warnings(caplog)
    assert "FastAPI's arguments from config.py" in warning
    status = json.loads(cli(root, "status", "--json")[1])["openapi"]
    assert status["state"] == "stale" and "FastAPI's arguments" in status["reason"]


LIB_TREE = {
    **TREE,
    "lib/__init__.py": "",
    "lib/models.py": """
        from pydantic import BaseModel


        class Thing(BaseModel):
            name: str
    """,
    "routes/things/route.py": """
        from ...lib.models import Thing
        from .helpers import LIMIT


        def GET(request) -> list[Thing]:
            return [][:LIMIT]
    """,
    "routes/things/helpers.py": "LIMIT = 10\n",
    "routes/things/_layout.py": "tags = ['things']\n",
}


@pytest.mark.parametrize("change", ["edited", "gone"])
def test_a_project_module_the_app_imported_is_compared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, change: str
) -> None:
    root = write_tree(tmp_path / "app", LIB_TREE)
    code, out = cli(root, "build")
    assert code == 0, out
    modules = manifest_of(root)["openapi"]["modules"]
    assert sorted(modules) == ["lib/__init__.py", "lib/models.py", "routes/things/helpers.py"]
    assert modules["lib/models.py"] == hashlib.sha256(
        (root / "lib/models.py").read_bytes()).hexdigest()
    if change == "edited":  # a field added to a model a route returns
        models = root / "lib/models.py"
        models.write_text(models.read_text() + "    size: int = 0\n")
        expected = "lib/models.py, which the app imports, changed since the build"
    else:  # a module the build imported is not there (a manifest naming it, as if moved)
        manifest = manifest_of(root)
        manifest["openapi"]["modules"]["lib/moved.py"] = "0" * 64
        (root / ".cache" / MANIFEST_FILE).write_text(json.dumps(manifest))
        expected = "lib/moved.py, which the app imported at the build, is gone"
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        first = TestClient(create_app(root)).get("/openapi.json")
    assert first.content == runtime_document(root)
    (warning,) = openapi_warnings(caplog)
    assert expected in warning
    status = json.loads(cli(root, "status", "--json")[1])["openapi"]
    assert status["state"] == "stale" and expected in status["reason"]


@pytest.mark.parametrize("modules", [{"../outside.py": "0" * 64}, {"/etc/passwd": "0" * 64},
                                     {"lib/a.py": "not a digest"}, ["lib/a.py"]])
def test_a_record_naming_files_outside_the_project_is_invalid(modules: object) -> None:
    record = {"sha256": "0" * 64, "size": 1, "fingerprint": "f", "openapi_url": "/openapi.json",
              "versions": {}, "sources": {}, "arguments": "", "modules": modules}
    with pytest.raises(ValueError):
        BakedDocument.from_dict(record)
    BakedDocument.from_dict({**record, "modules": {"lib/a.py": "0" * 64}})


def test_an_included_tree_makes_the_host_document_the_hosts(
    built: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = write_tree(tmp_path / "other", {"routes/health/route.py": """
        def GET(request):
            return {"ok": True}
    """})
    app = create_app(built)
    include(app, other, prefix="/v2", source="scan")
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        document = TestClient(app).get("/openapi.json").json()
    assert "/v2/health" in document["paths"] and "/items" in document["paths"]
    (warning,) = openapi_warnings(caplog)
    assert "includes another route tree" in warning


def test_status_shows_the_document(built: Path) -> None:
    code, out = cli(built, "status")
    assert code == 0 and "OpenAPI:" in out and "fits" in out
    status = json.loads(cli(built, "status", "--json")[1])["openapi"]
    assert status["state"] == "fits"
    assert status["sha256"] == manifest_of(built)["openapi"]["sha256"]
    (built / ".cache" / OPENAPI_FILE).unlink()
    status = json.loads(cli(built, "status", "--json")[1])["openapi"]
    assert status["state"] == "invalid" and "openapi.json" in status["reason"]


# --- the hatchling hook -----------------------------------------------------------------------


def test_the_hook_puts_the_document_in_the_wheel(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", files={
        **ROUTES, "config.py": 'build = {"openapi": True}\n',
    })
    files = read_wheel(build_wheel(root, tmp_path / "out"))
    body = files["myapp/.cache/openapi.json"]
    record = json.loads(files["myapp/.cache/manifest.json"])["openapi"]
    assert record["sha256"] == hashlib.sha256(body).hexdigest()
    assert "/items/{item_id}" in json.loads(body)["paths"]
    assert str(tmp_path).encode() not in body


def test_a_module_missing_from_the_build_environment_is_a_clear_hook_error(
    tmp_path: Path
) -> None:
    root = make_app(tmp_path / "app", files={
        **ROUTES, "config.py": 'build = {"openapi": True}\n',
        "routes/db/route.py": "import sqlalchemy_not_here\n\n\ndef GET(request):\n"
                              "    return 1\n",
    })
    with pytest.raises(FastAPIRouteBuildError) as failed:
        initialize(hook_for(root, {}))
    message = str(failed.value)
    assert "'sqlalchemy_not_here'" in message and "routes/db/route.py" in message
    assert "[build-system].requires" in message and "build.openapi" in message
    assert "Traceback" not in message


@pytest.fixture(scope="module")
def our_wheel(tmp_path_factory: pytest.TempPathFactory) -> Wheelhouse:
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.mark.slow
def test_an_isolated_wheel_build_makes_the_document_or_names_the_missing_module(
    tmp_path: Path, our_wheel: Wheelhouse
) -> None:
    """`python -m build`: the hook's child process runs in the isolated build environment."""
    project = copy_project(SAMPLE_PROJECT, tmp_path / "sample_project")
    config = project / "sample_app" / "config.py"
    config.write_text(config.read_text().replace(
        'build = {"compression_level": 6}', 'build = {"compression_level": 6, "openapi": True}'))
    build_app(project, tmp_path / "dist", our_wheel, "--wheel")
    files = read_wheel(only(tmp_path / "dist", "*.whl"))
    record = json.loads(files["sample_app/.cache/manifest.json"])["openapi"]
    body = files["sample_app/.cache/openapi.json"]
    assert record["sha256"] == hashlib.sha256(body).hexdigest()
    assert json.loads(body)["info"]["title"] == "Sample API"

    write_tree(project / "sample_app", {"routes/db/route.py": """
        import sqlalchemy_not_here


        def GET(request):
            return 1
    """})
    failed = build_app(project, tmp_path / "dist2", our_wheel, "--wheel", check=False)
    assert failed.returncode != 0
    output = failed.stdout
    assert "routes/db/route.py" in output and "'sqlalchemy_not_here'" in output, output
    assert "[build-system].requires" in output and "build.openapi" in output, output
    assert not list((tmp_path / "dist2").glob("*.whl"))
