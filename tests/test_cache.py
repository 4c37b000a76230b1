"""The cache: round trip, reproducible bytes, refusal of forged or broken caches, staleness."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import zlib
from pathlib import Path

import pytest
from limits import SMALL_TREE as TREE

from fastapi_route.config import Config, load_config
from fastapi_route.errors import BuildFailed, CacheError, NoBuildError
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline import freshness, store
from fastapi_route.pipeline.build import build


def built(root: Path) -> Path:
    build(root, load_config(root))
    return root / ".cache"


def test_round_trip_keeps_the_table(project):
    root = project(TREE)
    result = build(root, load_config(root))
    loaded = cache_io.load(root / ".cache")
    assert loaded.routes == result.table.routes
    assert loaded.manifest.total_routes == 5
    assert loaded.manifest.static_routes == 3
    assert loaded.manifest.dynamic_routes == 2
    assert sorted(p.name for p in (root / ".cache").iterdir()) == [
        ".gitignore", "manifest.json", "routes.dat",
    ]
    assert (root / ".cache" / ".gitignore").read_text() == "*\n"


def test_manifest_has_the_documented_keys(project):
    manifest = json.loads((built(project(TREE)) / "manifest.json").read_text())
    for key in (
        "format_version", "fastapi_route_version", "created_at", "total_routes",
        "static_routes", "dynamic_routes", "compression_level", "original_size",
        "compressed_size", "compression_ratio", "routes_sha256", "fingerprint", "cache_dir",
    ):
        assert key in manifest, key
    assert manifest["cache_dir"] == ".cache"
    assert manifest["compression_level"] == 6


def test_compression_level_is_applied(project):
    root = project(TREE)
    build(root, load_config(root).with_build(compression_level=1))
    data = (root / ".cache" / "routes.dat").read_bytes()
    assert json.loads((root / ".cache" / "manifest.json").read_text())["compression_level"] == 1
    raw = zlib.decompress(data)
    assert data == zlib.compress(raw, 1)


def test_same_epoch_gives_identical_bytes_even_after_moving(tmp_path, monkeypatch, project):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = project(TREE)
    built(first)
    moved = tmp_path / "elsewhere" / "deeper"
    shutil.copytree(first, moved, ignore=shutil.ignore_patterns(".cache"))
    built(moved)
    for name in ("routes.dat", "manifest.json"):
        a = (first / ".cache" / name).read_bytes()
        b = (moved / ".cache" / name).read_bytes()
        assert a == b, name
        assert str(tmp_path).encode() not in a
    manifest = json.loads((moved / ".cache" / "manifest.json").read_text())
    assert manifest["created_at"] == "2023-11-14T22:13:20+00:00"


def test_moved_project_keeps_a_valid_cache(tmp_path, project):
    root = project(TREE)
    built(root)
    moved = tmp_path / "moved"
    shutil.move(str(root), moved)
    loaded = cache_io.load(moved / ".cache")
    assert not freshness.check(moved, Config(), loaded).stale


class Marker:
    """A pickle that would create a file when unpickled by a careless reader."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _forge(cache: Path, payload: bytes) -> None:
    data = zlib.compress(payload)
    manifest = json.loads((cache / "manifest.json").read_text())
    manifest["routes_sha256"] = hashlib.sha256(data).hexdigest()
    (cache / "routes.dat").write_bytes(data)
    (cache / "manifest.json").write_text(json.dumps(manifest))


def test_forged_pickle_with_matching_hash_runs_nothing(tmp_path, project):
    cache = built(project(TREE))
    marker = tmp_path / "pwned"
    _forge(cache, pickle.dumps({"format_version": 1, "routes": [Marker(marker)]}))
    with pytest.raises(CacheError, match="tampered") as info:
        cache_io.load(cache)
    assert "forbidden global" in str(info.value)
    assert "fastapi-route clean && fastapi-route build --force" in str(info.value)
    assert not marker.exists()


def test_forged_os_system_pickle_is_refused(tmp_path, project):
    cache = built(project(TREE))
    marker = tmp_path / "pwned-by-system"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    _forge(cache, payload)
    with pytest.raises(CacheError):
        cache_io.load(cache)
    assert not marker.exists()


def test_truncated_data_is_refused(project):
    cache = built(project(TREE))
    data = (cache / "routes.dat").read_bytes()
    (cache / "routes.dat").write_bytes(data[: len(data) // 2])
    with pytest.raises(CacheError, match="SHA-256"):
        cache_io.load(cache)


def test_truncated_data_with_forged_hash_is_refused(project):
    cache = built(project(TREE))
    data = (cache / "routes.dat").read_bytes()
    truncated = zlib.decompress(data)[:-7]
    _forge(cache, truncated)
    with pytest.raises(CacheError, match="cannot be decoded"):
        cache_io.load(cache)


def test_records_of_the_wrong_shape_are_refused(project):
    cache = built(project(TREE))
    _forge(cache, pickle.dumps({"format_version": 1, "routes": [("GET", 1, 2)]}, protocol=4))
    with pytest.raises(CacheError):
        cache_io.load(cache)


def test_manifest_from_another_format_version(project):
    cache = built(project(TREE))
    manifest = json.loads((cache / "manifest.json").read_text())
    manifest["format_version"] = 99
    manifest["fastapi_route_version"] = "9.9.9"
    (cache / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CacheError, match="format 99, made by fastapi-route 9.9.9"):
        cache_io.load(cache)


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]"])
def test_broken_manifest(project, content):
    cache = built(project(TREE))
    (cache / "manifest.json").write_bytes(content)
    with pytest.raises(CacheError, match="manifest.json"):
        cache_io.load(cache)


def test_missing_cache_is_no_build(project):
    root = project(TREE)
    with pytest.raises(NoBuildError, match=r"No valid build found\. Run 'fastapi-route build'"):
        cache_io.load(root / ".cache")
    cache = built(root)
    (cache / "manifest.json").unlink()
    with pytest.raises(NoBuildError):
        cache_io.load(cache)


def test_missing_data_file(project):
    cache = built(project(TREE))
    (cache / "routes.dat").unlink()
    with pytest.raises(CacheError, match="routes.dat is missing"):
        cache_io.load(cache)


def test_failed_build_keeps_the_previous_cache(project):
    root = project(TREE)
    cache = built(root)
    before = {p.name: p.read_bytes() for p in cache.iterdir()}
    (root / "routes" / "broken").mkdir()
    (root / "routes" / "broken" / "route.py").write_text("def GET(request:\n")
    with pytest.raises(BuildFailed):
        build(root, load_config(root), force=True)
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == before


def test_force_clears_the_folder_but_keeps_foreign_files(project):
    root = project(TREE)
    cache = built(root)
    (cache / ".routes.dat.abc.tmp").write_text("left by a killed build")
    (cache / "notes.txt").write_text("mine")
    build(root, load_config(root), force=True)
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".*.tmp"))
    assert (cache / "notes.txt").read_text() == "mine"
    cache_io.load(cache)


def test_remove_keeps_files_it_did_not_write(project):
    cache = built(project(TREE))
    (cache / "notes.txt").write_text("mine")
    assert store.remove(cache) == ["notes.txt"]
    assert sorted(p.name for p in cache.iterdir()) == ["notes.txt"]
    (cache / "notes.txt").unlink()
    assert store.remove(cache) == []
    assert not cache.exists()


def test_staleness_names_added_removed_and_changed_files(project):
    root = project(TREE)
    cache = built(root)
    config = load_config(root)
    assert not freshness.check(root, config, cache_io.load(cache)).stale

    (root / "routes" / "about").mkdir()
    (root / "routes" / "about" / "route.py").write_text("def GET(request):\n    return {}\n")
    shutil.rmtree(root / "routes" / "docs")
    (root / "routes" / "users" / "route.py").write_text("def GET(request):\n    return []\n")
    loaded = cache_io.load(cache)
    stale = freshness.check(root, config, loaded)
    assert stale.added == ["routes/about/route.py"]
    assert stale.removed == ["routes/docs/[...slug]/route.py"]
    assert stale.methods_changed == ["routes/users/route.py"]  # POST removed
    assert "added: routes/about/route.py" in stale.describe()
    assert "methods changed: routes/users/route.py" in stale.describe()


def test_editing_a_handler_body_is_not_stale(project):
    root = project(TREE)
    cache = built(root)
    (root / "routes" / "index.py").write_text("def GET(request):\n    return {'new': 1}\n")
    assert not freshness.check(root, load_config(root), cache_io.load(cache)).stale


def test_a_cache_of_another_route_dir_is_refused(project):
    root = project(TREE)
    cache = built(root)
    with pytest.raises(CacheError, match="was built from 'routes'"):
        cache_io.load(cache, "api")
    assert cache_io.load(cache, "routes").routes
