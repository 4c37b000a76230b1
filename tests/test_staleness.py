"""One meaning of stale (issue 17, part 8).

A cache is stale when a route file or layout was added or removed, a method was added to or
removed from a route file, a handler's signature changed (its parameters, their kinds and
annotations, `operation_id`, `async`), or a layout's declared names changed. A handler's body,
a comment, a blank line, the files' mtimes and the project's place on the disk do not count.
`status`, `run`, `run --strict`, `fastapi_route.asgi:app` (FASTAPI_ROUTE_STRICT) all use that
one definition, and say the same thing about it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import write_tree
from fastapi.testclient import TestClient

from fastapi_route import asgi
from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.errors import CacheError
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline import freshness
from fastapi_route.pipeline.build import build
from fastapi_route.project import Project
from fastapi_route.runtime.app import StaleCacheError, create_app, runtime_of

ITEMS = "routes/items/route.py"
ITEM = "routes/items/[item_id]/route.py"
LAYOUT = "routes/items/_layout.py"

TREE = {
    "routes/index.py": "def GET(request):\n    return {'home': True}\n",
    ITEMS: (
        "from fastapi import Request\n"
        "\n"
        "\n"
        "def GET(request: Request, limit: int = 10):\n"
        "    return {'items': [], 'limit': limit}\n"
    ),
    ITEM: (
        "async def GET(request, item_id: int):\n"
        "    return {'id': item_id}\n"
    ),
    LAYOUT: "tags = ['items']\n",
}

ADD_POST = (
    TREE[ITEMS]
    + "\n\ndef POST(request: Request, payload: dict):\n    return {'created': payload}\n"
)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "app", TREE)
    build(root, load_config(root))
    return root


def status_json(root: Path) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["status", "--json", "--project", str(root)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def status_text(root: Path) -> str:
    result = CliRunner().invoke(main, ["status", "--project", str(root)])
    assert result.exit_code == 0, result.output
    return result.output


def strict_refusal(root: Path) -> str | None:
    """What `run --strict` (create_app(strict=True)) says when it refuses; None if it serves."""
    try:
        create_app(Project(root), source="cache", strict=True)
    except StaleCacheError as exc:
        return str(exc)
    return None


def check(root: Path) -> freshness.Staleness:
    config = load_config(root)
    return freshness.check(root, config, cache_io.load(root / ".cache", config.route_dir))


# --- what is stale ----------------------------------------------------------------------------

STALE_EDITS: dict[str, tuple[dict[str, str], str, str]] = {
    # name: (files written over the tree, the file named, how its change is named)
    "a POST added": ({ITEMS: ADD_POST}, ITEMS, "methods changed"),
    "a GET removed": ({ITEMS: "X = 1\n"}, ITEMS, "methods changed"),
    "a parameter added": (
        {ITEM: TREE[ITEM].replace("item_id: int)", "item_id: int, q: str)")},
        ITEM, "signature changed",
    ),
    "a parameter renamed": (
        {ITEMS: TREE[ITEMS].replace("limit: int = 10", "size: int = 10")},
        ITEMS, "signature changed",
    ),
    "an annotation changed": (
        {ITEM: TREE[ITEM].replace("item_id: int", "item_id: str")},
        ITEM, "signature changed",
    ),
    "async-ness changed": ({ITEM: TREE[ITEM].replace("async def", "def")}, ITEM,
                           "signature changed"),
    "an operation_id given": (
        {ITEMS: TREE[ITEMS].replace(
            "def GET", "from fastapi_route import route\n\n\n@route(operation_id='list_items')\n"
            "def GET")},
        ITEMS, "signature changed",
    ),
    "a layout declares another name": (
        {LAYOUT: "tags = ['items']\ndeprecated = True\n"}, LAYOUT, "declarations changed",
    ),
    "a route file added": ({"routes/new/route.py": "def GET(request):\n    return {}\n"},
                           "routes/new/route.py", "added"),
}


@pytest.mark.parametrize("edit", list(STALE_EDITS), ids=list(STALE_EDITS))
def test_status_run_and_strict_agree_that_it_is_stale(built: Path, edit: str) -> None:
    files, named, label = STALE_EDITS[edit]
    write_tree(built, files)
    stale = check(built)
    assert stale.stale and f"{label}: {named}" in stale.describe(), stale.describe()
    status = status_json(built)
    assert status["stale"] is True and status["stale_reason"] == stale.describe()
    assert f"Stale:          yes - {stale.describe()}" in status_text(built)
    refusal = strict_refusal(built)
    assert refusal is not None and stale.describe() in refusal, refusal


def test_a_post_added_to_a_route_file_is_refused_by_run_strict_and_warned_by_run(
    built: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's first case: `status` said stale, `run --strict` served the old table."""
    import uvicorn

    def serve(*args: object, **kwargs: object) -> None:
        raise AssertionError("run --strict served a stale cache")

    monkeypatch.setattr(uvicorn, "run", serve)
    write_tree(built, {ITEMS: ADD_POST})
    result = CliRunner().invoke(main, ["run", "--strict", "--port", "8000", "--project",
                                       str(built)])
    assert result.exit_code == 1, result.output
    assert f"methods changed: {ITEMS}" in result.output
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        client = TestClient(create_app(Project(built), source="cache"))
    assert f"methods changed: {ITEMS}" in caplog.text
    assert client.post("/items", json={}).status_code == 405  # the table of the build, named
    build(built, load_config(built))
    assert not check(built).stale
    client = TestClient(create_app(Project(built), source="cache", strict=True))
    assert client.post("/items", json={"a": 1}).json() == {"created": {"a": 1}}


def test_the_asgi_app_refuses_a_stale_cache_under_strict(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(built, {ITEM: TREE[ITEM].replace("item_id: int", "item_id: str")})
    monkeypatch.delenv(asgi.ENV_APP, raising=False)
    monkeypatch.delenv(asgi.ENV_SCHEDULE, raising=False)
    monkeypatch.setenv(asgi.ENV_PROJECT, str(built))
    for value, refused in (("1", True), ("0", False)):
        monkeypatch.setenv(asgi.ENV_STRICT, value)
        app = asgi.DeferredApp()
        sent = asyncio.run(_startup(app))
        assert (sent["type"] == "lifespan.startup.failed") is refused, sent
        if refused:
            assert f"signature changed: {ITEM}" in sent["message"]


async def _startup(app: asgi.DeferredApp) -> dict[str, Any]:
    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent[0]


def test_status_json_lists_what_changed_by_kind(built: Path) -> None:
    write_tree(built, {ITEMS: ADD_POST, ITEM: TREE[ITEM].replace("async def", "def"),
                       "routes/new/route.py": "def GET(request):\n    return {}\n"})
    (built / "routes" / "index.py").unlink()
    assert status_json(built)["stale_files"] == {
        "added": ["routes/new/route.py"], "removed": ["routes/index.py"],
        "methods_changed": [ITEMS], "signature_changed": [ITEM],
        "declarations_changed": [], "unreadable": [],
    }


def test_a_route_file_that_no_longer_parses_is_stale(built: Path) -> None:
    write_tree(built, {ITEMS: "def GET(request:\n"})
    stale = check(built)
    assert stale.unreadable == [ITEMS] and stale.stale
    assert strict_refusal(built) is not None


# --- what is not ------------------------------------------------------------------------------

FRESH_EDITS: dict[str, dict[str, str]] = {
    "a handler's body": {ITEMS: TREE[ITEMS].replace("'items': []", "'items': [1, 2]")},
    "a comment line above a handler": {ITEMS: TREE[ITEMS].replace(
        "def GET", "# lists the items\n# (paginated)\ndef GET")},
    "a default value": {ITEMS: TREE[ITEMS].replace("= 10", "= 20")},
    "the handlers' order": {ITEMS: ADD_POST},  # rebuilt below with POST first
    "a layout's value": {LAYOUT: "tags = ['things']\n"},
    "a helper beside the route": {"routes/items/helpers.py": "def helper():\n    return 1\n"},
}


@pytest.mark.parametrize("edit", list(FRESH_EDITS), ids=list(FRESH_EDITS))
def test_edits_that_change_no_fact_of_the_table_are_not_stale(tmp_path: Path,
                                                               edit: str) -> None:
    files = FRESH_EDITS[edit]
    root = write_tree(tmp_path / "app", {**TREE, **files} if edit == "the handlers' order"
                      else TREE)
    build(root, load_config(root))
    if edit == "the handlers' order":
        get, post = ADD_POST.split("\n\ndef POST")
        write_tree(root, {ITEMS: "from fastapi import Request\n\n\ndef POST" + post
                          + "\n\n" + get.replace("from fastapi import Request\n", "")})
    else:
        write_tree(root, files)
    assert not check(root).stale, check(root).describe()
    assert status_json(root)["stale"] is False
    assert strict_refusal(root) is None


def test_a_body_edit_is_served_without_a_rebuild_and_lines_follow_the_source(
    built: Path
) -> None:
    write_tree(built, {ITEMS: "# a header\n# of three\n# lines\n"
                       + TREE[ITEMS].replace("'items': []", "'items': ['new']")})
    app = create_app(Project(built), source="cache", strict=True)
    assert TestClient(app).get("/items").json() == {"items": ["new"], "limit": 10}
    lines = {(r.method, r.path): r.line for r in runtime_of(app).table}
    assert lines[("GET", "/items")] == 7  # was 4 at the build: the re-read file says 7


def test_touched_copied_and_moved_trees_stay_fresh(built: Path, tmp_path: Path) -> None:
    for path in (built / "routes").rglob("*.py"):
        os.utime(path, (1, 1))
    assert not check(built).stale
    moved = tmp_path / "elsewhere" / "app"
    shutil.copytree(built, moved)  # new inodes; copy2 keeps mtimes, so change them too
    for path in (moved / "routes").rglob("*.py"):
        path.write_bytes(path.read_bytes())
    assert not check(moved).stale
    assert strict_refusal(moved) is None


def test_a_cache_of_the_previous_format_asks_for_a_rebuild(built: Path) -> None:
    manifest_path = built / ".cache" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = cache_io.FORMAT_VERSION - 1
    del manifest["digests"]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(CacheError) as info:
        cache_io.load(built / ".cache")
    assert "rebuild" in info.value.message and info.value.hint == "fastapi-route build"
    result = CliRunner().invoke(main, ["status", "--project", str(built)])
    assert result.exit_code == 1 and "fastapi-route build" in result.output
    assert CliRunner().invoke(main, ["build", "--project", str(built)]).exit_code == 0
    assert status_json(built)["stale"] is False




MALFORMED = [("digests", value) for value in (
    [], {"routes/index.py": "x"}, {"routes/index.py": [1, 2]}, {"routes/index.py": ["a"]}, None)]
MALFORMED += [("stamps", value) for value in (
    [], {ITEM: "x"}, {ITEM: [1, 2]}, {ITEM: [1, 2, "3"]}, {ITEM: [1, 2, -3]},
    {ITEM: [True, 2, 3]}, {ITEM: [1, 2, 3, 4]}, None)]


@pytest.mark.parametrize(("field", "value"), MALFORMED)
def test_a_manifest_with_malformed_digests_or_stamps_is_refused(
        built: Path, field: str, value: object) -> None:
    manifest_path = built / ".cache" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest[field] = value
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(CacheError, match=field):
        cache_io.load(built / ".cache")


def test_a_file_the_manifest_has_no_digest_for_is_checked_by_its_facts(built: Path) -> None:
    """Digests are not trusted for anything but staleness: one missing (a hand-made cache)
    makes its file stale, never a crash."""
    manifest_path = built / ".cache" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["digests"][ITEM]
    manifest_path.write_text(json.dumps(manifest))
    assert check(built).signature_changed == [ITEM]


# --- stamps: a file not written since the build is not read again ------------------------------


def manifest_of(root: Path) -> dict[str, Any]:
    return json.loads((root / ".cache" / "manifest.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as written well before the build (a file's ctime cannot be set
    back, so a tree written by a test would otherwise be 2 s too young to be stamped)."""
    monkeypatch.setattr(freshness, "RACY_NS", -60_000_000_000)


@pytest.fixture
def stamped(tmp_path: Path, settled: None) -> Path:
    root = write_tree(tmp_path / "app", TREE)
    build(root, load_config(root))
    return root


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the stale check reads and hashes, as it reads them."""
    read: list[str] = []
    digest_of = freshness._digest_of

    def counted(path: str) -> str | None:
        read.append(path)
        return digest_of(path)

    monkeypatch.setattr(freshness, "_digest_of", counted)
    return read


def test_a_build_stamps_each_file_with_its_times_and_size(stamped: Path) -> None:
    manifest = manifest_of(stamped)
    assert set(manifest["stamps"]) == set(manifest["digests"]) == {
        "routes/index.py", ITEMS, ITEM, LAYOUT}
    for rel, stamp in manifest["stamps"].items():
        found = os.stat(stamped / rel)
        assert stamp == [found.st_mtime_ns, found.st_ctime_ns, found.st_size]
    status = status_json(stamped)  # the stale check's per-file records are not a status
    assert status["stale"] is False and "stamps" not in status and "digests" not in status


def test_files_written_just_before_the_build_get_no_stamp(tmp_path: Path) -> None:
    """An edit in the same tick of the file system's clock as the build's read would keep the
    times the build saw: a file changed less than 2 s before the build is always hashed."""
    root = write_tree(tmp_path / "app", TREE)
    time.sleep(2.2)
    (root / ITEM).write_text(TREE[ITEM] + "\n")
    build(root, load_config(root))
    stamps = manifest_of(root)["stamps"]
    assert ITEM not in stamps and set(stamps) == {"routes/index.py", ITEMS, LAYOUT}


def test_an_untouched_stamped_tree_is_fresh_without_reading_a_file(
        stamped: Path, hashed: list[str]) -> None:
    assert not check(stamped).stale
    assert hashed == []


def test_an_edit_of_a_stamped_file_is_found_even_at_the_same_size(
        stamped: Path, hashed: list[str]) -> None:
    edited = TREE[ITEM].replace("item_id: int", "item_id: str")
    assert len(edited) == len(TREE[ITEM])
    (stamped / ITEM).write_text(edited)
    assert check(stamped).signature_changed == [ITEM]
    assert hashed == [f"{stamped}/{ITEM}"]
    assert "signature changed: " + ITEM in (strict_refusal(stamped) or "")


def test_a_file_put_back_with_its_old_mtime_is_still_read(
        stamped: Path, hashed: list[str]) -> None:
    """`tar x`, `rsync -t`, `cp -p` and `touch -r` set a file's mtime: the change time they
    cannot set says the file was written."""
    before = os.stat(stamped / ITEM)
    (stamped / ITEM).write_text(TREE[ITEM].replace("item_id: int", "item_id: str"))
    os.utime(stamped / ITEM, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert check(stamped).signature_changed == [ITEM]
    assert hashed == [f"{stamped}/{ITEM}"]


def test_a_touched_stamped_file_is_read_again_and_still_fresh(
        stamped: Path, hashed: list[str]) -> None:
    os.utime(stamped / ITEMS)
    assert not check(stamped).stale
    assert hashed == [f"{stamped}/{ITEMS}"]


def test_a_file_older_than_1970_is_stamped_and_its_cache_loads(
        tmp_path: Path, settled: None) -> None:
    root = write_tree(tmp_path / "app", TREE)
    os.utime(root / ITEMS, (-157766400, -157766400))  # 1965
    build(root, load_config(root))
    assert manifest_of(root)["stamps"][ITEMS][0] < 0
    assert not check(root).stale
    assert status_json(root)["valid"] is True


def test_reproducible_and_wheel_builds_record_no_stamps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settled: None) -> None:
    """A stamp is of one disk: a reproducible build's bytes may not depend on it, and a
    wheel's cache is read where pip put the files."""
    root = write_tree(tmp_path / "app", TREE)
    build(root, load_config(root), into=tmp_path / "staging")
    assert "stamps" not in json.loads((tmp_path / "staging" / "manifest.json").read_text())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build(root, load_config(root))
    assert "stamps" not in manifest_of(root)
    assert not check(root).stale
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "not a number")  # not a reproducible build
    build(root, load_config(root))
    assert "stamps" in manifest_of(root)
