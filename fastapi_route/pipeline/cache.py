"""The cache on disk: routes.dat (pickle + zlib, builtins only), manifest.json, .gitignore.

Writers hold an exclusive lock on the project folder and replace each file by rename, data
first, manifest last; readers hold a shared lock while they read both. So a reader sees the old
pair or the new pair, never a mix, and a killed writer leaves only temp files, which the next
writer removes. Loading admits no pickle globals at all, so a forged routes.dat cannot run code.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import shutil
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import CacheError, NoBuildError
from ..table import Route, Statistics

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, renames still atomic
    fcntl = None  # type: ignore[assignment]

FORMAT_VERSION = 1
DATA_FILE = "routes.dat"
MANIFEST_FILE = "manifest.json"
GITIGNORE_FILE = ".gitignore"
OUR_FILES = (DATA_FILE, MANIFEST_FILE, GITIGNORE_FILE)
TEMP_SUFFIX = ".tmp"
PICKLE_PROTOCOL = 4  # fixed, so the bytes do not change with the Python version
MEND_HINT = "fastapi-route clean && fastapi-route build --force"


@dataclass(frozen=True)
class Cache:
    """A verified cache as read from disk."""

    manifest: dict[str, Any]
    routes: list[Route]


def fingerprint(structure: Sequence[tuple[str, Sequence[str]]]) -> str:
    """Hash of the tree's structure: each route file's relative path and its methods."""
    text = "\n".join(f"{file} {' '.join(sorted(methods))}" for file, methods in sorted(structure))
    return hashlib.sha256(text.encode()).hexdigest()


def structure_of(
    routes: Sequence[Route], route_files: Sequence[str]
) -> list[tuple[str, list[str]]]:
    methods: dict[str, list[str]] = {f: [] for f in route_files}
    for r in routes:
        methods.setdefault(r.file, []).append(r.method)
    return sorted(methods.items())


def created_at() -> str:
    """ISO 8601 build time; SOURCE_DATE_EPOCH (reproducible builds) wins over the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc).isoformat()
    return datetime.now(tz=timezone.utc).isoformat()


def encode(routes: Sequence[Route], level: int) -> tuple[bytes, int]:
    """The compressed table and its uncompressed size."""
    raw = pickle.dumps(
        {"format_version": FORMAT_VERSION, "routes": [r.to_record() for r in routes]},
        protocol=PICKLE_PROTOCOL,
    )
    return zlib.compress(raw, level), len(raw)


def make_manifest(
    routes: Sequence[Route],
    route_files: Sequence[str],
    data: bytes,
    original_size: int,
    level: int,
    cache_dir: str,
    route_dir: str,
) -> dict[str, Any]:
    stats = Statistics.of(routes)
    return {
        "format_version": FORMAT_VERSION,
        "fastapi_route_version": __version__,
        "created_at": created_at(),
        "total_routes": stats.total_routes,
        "static_routes": stats.static_routes,
        "dynamic_routes": stats.dynamic_routes,
        "compression_level": level,
        "original_size": original_size,
        "compressed_size": len(data),
        "compression_ratio": round(original_size / len(data), 2) if data else 0.0,
        "routes_sha256": hashlib.sha256(data).hexdigest(),
        "fingerprint": fingerprint(structure_of(routes, route_files)),
        "route_files": list(route_files),
        "route_dir": route_dir,
        "cache_dir": cache_dir,
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


@contextlib.contextmanager
def locked(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """An advisory lock on the folder holding the cache (it outlives `clean`, the cache doesn't)."""
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield  # unreadable or missing: nothing to serialise against
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_atomic(path: Path, content: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _remove_temp_files(cache: Path) -> None:
    """Leftovers of a writer killed mid-way; only called under the exclusive lock."""
    for leftover in cache.glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def save(cache: Path, data: bytes, manifest: dict[str, Any], *, force: bool = False) -> Path:
    """Write the cache into `cache`; with `force`, first delete what the folder held."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    with locked(cache.parent, exclusive=True):
        if force:
            remove(cache, lock=False)
        cache.mkdir(parents=True, exist_ok=True)
        _remove_temp_files(cache)
        _write_atomic(cache / GITIGNORE_FILE, b"*\n")
        _write_atomic(cache / DATA_FILE, data)
        _write_atomic(cache / MANIFEST_FILE, manifest_bytes(manifest))
    return cache


def remove(cache: Path, *, lock: bool = True) -> list[str]:
    """Delete the cache folder; files we did not write are kept (and named) instead."""
    kept: list[str] = []
    with locked(cache.parent, exclusive=True) if lock else contextlib.nullcontext():
        if not cache.is_dir() or cache.is_symlink():
            if cache.is_symlink():
                cache.unlink()
            return kept
        for entry in sorted(cache.iterdir()):
            ours = entry.name in OUR_FILES or (
                entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)
            )
            if ours and not entry.is_dir():
                entry.unlink()
            else:
                kept.append(entry.name)
        if not kept:
            shutil.rmtree(cache, ignore_errors=True)
    return kept


class _NoGlobals(pickle.Unpickler):
    """Refuses every global: a route table is made of builtins, so nothing else is needed."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def _decode(data: bytes) -> list[Route]:
    raw = zlib.decompress(data)
    payload = _NoGlobals(io.BytesIO(raw)).load()
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ValueError("unexpected payload")
    records = payload.get("routes")
    if not isinstance(records, list):
        raise ValueError("no route list")
    return [Route.from_record(r) for r in records]


def _corrupt(cache: Path, why: str) -> CacheError:
    return CacheError(f"The build cache at {cache} is corrupt or was tampered with: {why}.",
                      MEND_HINT)


def read_manifest(cache: Path) -> dict[str, Any]:
    try:
        text = (cache / MANIFEST_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NoBuildError(f"{cache / MANIFEST_FILE} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(cache, f"cannot read {MANIFEST_FILE} ({exc})") from None
    try:
        manifest = json.loads(text)
    except ValueError:
        raise _corrupt(cache, f"{MANIFEST_FILE} is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise _corrupt(cache, f"{MANIFEST_FILE} is not a JSON object")
    return manifest


def load(cache: Path) -> Cache:
    """Read and verify the cache: format version, SHA-256, then a global-free unpickle."""
    with locked(cache.parent, exclusive=False):
        if not cache.is_dir():
            raise NoBuildError(f"{cache} does not exist")
        manifest = read_manifest(cache)
        try:
            data = (cache / DATA_FILE).read_bytes()
        except FileNotFoundError:
            raise _corrupt(cache, f"{DATA_FILE} is missing") from None
        except OSError as exc:
            raise _corrupt(cache, f"cannot read {DATA_FILE} ({exc})") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise CacheError(
            f"The build cache at {cache} has format {version!r}, made by fastapi-route "
            f"{manifest.get('fastapi_route_version', '?')}; this version {__version__} reads "
            f"format {FORMAT_VERSION}.",
            MEND_HINT,
        )
    if hashlib.sha256(data).hexdigest() != manifest.get("routes_sha256"):
        raise _corrupt(cache, f"{DATA_FILE} does not match the SHA-256 in {MANIFEST_FILE}")
    try:
        routes = _decode(data)
    except Exception as exc:  # zlib.error, UnpicklingError, ValueError, EOFError...
        raise _corrupt(cache, f"{DATA_FILE} cannot be decoded ({exc})") from None
    if manifest.get("total_routes") != len(routes):
        raise _corrupt(cache, f"{MANIFEST_FILE} counts {manifest.get('total_routes')} routes, "
                              f"{DATA_FILE} holds {len(routes)}")
    return Cache(manifest, routes)
