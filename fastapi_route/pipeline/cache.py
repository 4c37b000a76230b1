"""The cache on disk: routes.dat (pickle + zlib, builtins only), manifest.json, .gitignore.

Writers hold an exclusive lock on the folder holding the cache and replace each file by
rename; readers hold a shared lock while they read both. When routes.dat changes, the writer
first retracts manifest.json, then renames the new data and the new manifest in. So a reader
sees the old pair or the new pair, never a mix, and a writer killed at any moment leaves the old
pair, the new pair or no manifest at all (no build), plus temp files the next writer removes.

Everything on disk is untrusted at load: files are read with a size bound (regular files only,
so a FIFO or /dev/zero cannot hang or flood the reader), the manifest's shape is checked, the
data must match its SHA-256, decompression is bounded (a zlib bomb is refused, not inflated),
the pickle may hold only the opcodes plain data needs (checked before unpickling), the
unpickler admits no globals at all, and every record must name a route file inside the route
folder with the URL its folders mean: a forged routes.dat can neither run code (directly, or by
making `run` import a file of its choosing) nor make the unpickler allocate without bound.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import pickle
import pickletools
import re
import shutil
import stat
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..conventions import (
    ROUTE_FILES,
    Segment,
    SegmentError,
    SegmentKind,
    is_skipped_dir,
    parse_segment,
    url_piece,
)
from ..errors import CacheError, NoBuildError
from ..table import Route, Statistics, methods_by_file

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
# Bounds for reading untrusted files: far above any real table (10,000 routes pickle to about
# 1 MB), far below what could exhaust a machine's memory.
MAX_DATA_BYTES = 64 * 1024 * 1024  # routes.dat, compressed
MAX_TABLE_BYTES = 64 * 1024 * 1024  # routes.dat, decompressed
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_DETAIL_CHARS = 300  # of an error's detail in a message: a forged record can be huge


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
    methods = methods_by_file(routes)
    return sorted((f, sorted(methods.get(f, ()))) for f in {*route_files, *methods})


def created_at() -> str:
    """ISO 8601 build time; SOURCE_DATE_EPOCH (reproducible builds) wins over the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc).isoformat()
    return datetime.now(tz=timezone.utc).isoformat()


def encode(routes: Sequence[Route], level: int) -> tuple[bytes, int]:
    """The compressed table and its uncompressed size."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=PICKLE_PROTOCOL)
    pickler.fast = True  # no memo: a table has no shared objects, and loading checks fewer opcodes
    pickler.dump({"format_version": FORMAT_VERSION, "routes": [r.to_record() for r in routes]})
    raw = buffer.getvalue()
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


def _fsync_dir(folder: Path) -> None:
    """Make the renames in `folder` durable (a power cut after a build keeps the new pair)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not supported for folders on this file system
    finally:
        os.close(fd)


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


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
        if not _same_bytes(cache / DATA_FILE, data):
            # Two renames cannot be one atomic step: retract the manifest first, so a writer
            # killed between them leaves "no build", never new data under the old manifest.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(cache / MANIFEST_FILE)
            _write_atomic(cache / DATA_FILE, data)
        _write_atomic(cache / MANIFEST_FILE, manifest_bytes(manifest))
        _fsync_dir(cache)
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


# The pickle opcodes a table of builtins needs (what `encode` writes, and the plain
# equivalents of older protocols). Everything else is refused before unpickling: opcodes that
# reach for globals or call things (GLOBAL, STACK_GLOBAL, INST, OBJ, REDUCE, NEWOBJ, BUILD,
# EXT*, PERSID) and PUT/BINPUT/LONG_BINPUT, whose index the C unpickler trusts to size its
# memo (a 9-byte pickle with LONG_BINPUT 0x08000000 makes it allocate and zero 2 GB).
_ALLOWED_OPCODES = frozenset({
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "MEMOIZE", "GET", "BINGET",
    "LONG_BINGET", "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2",
    "LONG", "LONG1", "LONG4", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE",
    "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "EMPTY_LIST", "APPEND", "APPENDS", "LIST",
    "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_DICT", "DICT", "SETITEM",
    "SETITEMS",
})


# What `encode` writes (binary protocol 4): opcode -> bytes of argument, or a negative number
# -n for "an n-byte little-endian length, then that many bytes".
_OWN_OPCODES = {
    0x80: 1, 0x95: 8, 0x2E: 0, 0x28: 0, 0x7D: 0, 0x5D: 0, 0x29: 0, 0x4E: 0, 0x88: 0, 0x89: 0,
    0x4B: 1, 0x4D: 2, 0x4A: 4, 0x8C: -1, 0x58: -4, 0x8D: -8, 0x85: 0, 0x86: 0, 0x87: 0,
    0x74: 0, 0x73: 0, 0x75: 0, 0x61: 0, 0x65: 0, 0x94: 0, 0x68: 1, 0x6A: 4,
}


def _only_own_opcodes(raw: bytes) -> bool:
    """True when the pickle is made only of the opcodes `encode` writes, ending at its STOP.

    A fast walk for the common case (pickletools.genops costs ~30 ms per 2,000 routes); any
    other pickle goes through `_check_opcodes`, which names what it refuses. The opcodes a
    table is mostly made of are tested first.
    """
    sizes = _OWN_OPCODES
    end = len(raw)
    i = 0
    while i < end:
        code = raw[i]
        if code == 0x8C:  # SHORT_BINUNICODE: a one-byte length, then the text
            i += 2 + raw[i + 1] if i + 1 < end else end + 1
            continue
        if code in (0x28, 0x5D, 0x74, 0x4E, 0x61, 0x65):  # MARK [] TUPLE None APPEND(S)
            i += 1
            continue
        size = sizes.get(code)
        if size is None:
            return False
        i += 1
        if size < 0:
            length = int.from_bytes(raw[i : i - size], "little")
            i += -size + length
        else:
            i += size
        if code == 0x2E:  # STOP
            return i == end
    return False


def _check_opcodes(raw: bytes) -> None:
    """Walk the pickle's opcodes without running any (pickletools parses, never builds)."""
    if _only_own_opcodes(raw):
        return
    for opcode, arg, position in pickletools.genops(raw):
        if opcode.name in _ALLOWED_OPCODES:
            continue
        if opcode.name in ("GLOBAL", "STACK_GLOBAL", "INST", "OBJ"):
            named = f" {arg.replace(' ', '.')}" if isinstance(arg, str) else ""
            raise pickle.UnpicklingError(
                f"forbidden global{named} (opcode {opcode.name} at byte {position})"
            )
        raise pickle.UnpicklingError(
            f"opcode {opcode.name} at byte {position} has no place in a route table"
        )


class _NoGlobals(pickle.Unpickler):
    """Refuses every global: a route table is made of builtins, so nothing else is needed."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def _inflate(data: bytes, limit: int = MAX_TABLE_BYTES) -> bytes:
    """Decompress, producing at most one byte more than `limit`: a stream that would give
    more (a zlib bomb: 2 GB of zeros fit in 2 MB) is refused without being inflated further,
    as is an incomplete one or one with trailing bytes."""
    inflater = zlib.decompressobj()
    raw = inflater.decompress(data, limit + 1)  # never 0, which would mean "no limit"
    if len(raw) > limit:
        raise ValueError(f"it decompresses to more than {limit} bytes")
    if not inflater.eof:
        raise ValueError("the compressed stream is incomplete")
    if inflater.unused_data:
        raise ValueError("bytes follow the end of the compressed stream")
    return raw


def _decode(data: bytes) -> list[Route]:
    raw = _inflate(data)
    _check_opcodes(raw)
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


def _detail(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS] + "..."


def _read_bounded(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refusing anything larger than `limit`. Opened non-blocking and
    checked with fstat, so a FIFO, a device or a folder in the file's place is an error, not a
    hang or an endless read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise OSError(f"{path.name} is {info.st_size} bytes, more than the {limit} allowed")
        content = f.read(limit + 1)
    if len(content) > limit:
        raise OSError(f"{path.name} is more than the {limit} bytes allowed")
    return content


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_manifest(cache: Path, manifest: dict[str, Any]) -> None:
    """The fields the loader and the stale check rely on, with the types a build writes."""
    files = manifest.get("route_files", [])
    wrong = [
        name for name, ok in (
            ("routes_sha256", isinstance(manifest.get("routes_sha256"), str)),
            ("total_routes", _is_int(manifest.get("total_routes"))),
            ("route_files", isinstance(files, list) and all(isinstance(f, str) for f in files)),
            ("route_dir", isinstance(manifest.get("route_dir", ""), str)),
        ) if not ok
    ]
    if wrong:
        raise _corrupt(cache, f"{MANIFEST_FILE} has a missing or invalid {', '.join(wrong)}")


_SEPARATORS = re.compile(r"[/\\]" if os.name == "nt" else "/")


def _inside(path: str) -> tuple[str, ...] | None:
    """The parts of a relative path with no `..`, `.` or empty part, else None. (On Windows a
    backslash separates too, and a colon could name a drive.)"""
    if "\x00" in path or (os.name == "nt" and ":" in path):
        return None
    parts = tuple(_SEPARATORS.split(path))
    return None if any(p in ("", ".", "..") for p in parts) else parts


def _where_routes_are(manifest: dict[str, Any], routes: Sequence[Route]) -> str | None:
    """Why the table cannot be what a build of this project wrote, or None.

    `run` imports each record's file, so a forged record naming `/tmp/evil.py` or
    `../other/route.py` would run that file: every file must be a route file inside the route
    folder, listed in the manifest, and its URL, parameters and catch-all exactly what its
    folders mean.
    """
    route_dir = manifest.get("route_dir", "routes")
    base = _inside(route_dir)
    if base is None:
        return f"route_dir is not a folder inside the project: {route_dir!r}"
    listed = set(manifest.get("route_files", []))
    meanings: dict[tuple[str, ...], _Meaning | None] = {(): ("", (), None)}
    expected: dict[str, tuple[str, tuple[str, ...], str | None] | None] = {}
    for r in routes:
        if r.file not in expected:
            parts = _inside(r.file)
            if (parts is None or len(parts) <= len(base) or len(parts) > MAX_DEPTH
                    or parts[: len(base)] != base or parts[-1] not in ROUTE_FILES):
                return f"not a route file inside {route_dir}/: {r.file!r}"
            meaning = _meaning(parts[len(base) : -1], meanings)
            expected[r.file] = None if meaning is None else (
                meaning[0] or "/", meaning[1], meaning[2]
            )
        if expected[r.file] is None:
            return f"not in a folder a build would route: {r.file!r}"
        if r.file not in listed:
            return f"not among the manifest's route_files: {r.file!r}"
        if (r.path, r.params, r.catchall) != expected[r.file]:
            return f"not the URL of its file: {r.method} {r.path!r} in {r.file!r}"
    return None


# The URL so far ("" for the route folder itself), parameter names, catch-all name: what a
# chain of folders means.
_Meaning = tuple[str, tuple[str, ...], "str | None"]
MAX_DEPTH = 1024  # path parts of a route file: PATH_MAX (4096 bytes) allows fewer


@functools.lru_cache(maxsize=4096)  # `[id]`, `parts`, ... recur across a table
def _routed_segment(folder: str) -> Segment | None:
    """The folder as a URL segment, or None for a folder no build would route."""
    if is_skipped_dir(folder):
        return None
    try:
        return parse_segment(folder)
    except SegmentError:
        return None


def _extend(meaning: _Meaning, folder: str) -> _Meaning | None:
    """What one more folder means, or None where a build would not route it."""
    segment = _routed_segment(folder)
    if segment is None:
        return None
    if segment.kind is SegmentKind.GROUP:
        return meaning
    url, params, catchall = meaning
    if catchall is not None:  # nothing may follow a catch-all
        return None
    url += "/" + url_piece(segment)
    if segment.kind is SegmentKind.STATIC:
        return url, params, None
    if segment.name in params:  # nor may a parameter name repeat
        return None
    return url, (*params, segment.name), (
        segment.name if segment.kind is SegmentKind.CATCHALL else None
    )


def _meaning(
    folders: tuple[str, ...], memo: dict[tuple[str, ...], _Meaning | None]
) -> _Meaning | None:
    """Folder by folder from the longest known prefix, so a table costs one parse per
    folder, not one per folder per file."""
    known = len(folders)
    while folders[:known] not in memo:
        known -= 1
    meaning = memo[folders[:known]]
    for depth in range(known + 1, len(folders) + 1):
        if meaning is not None:
            meaning = _extend(meaning, folders[depth - 1])
        memo[folders[:depth]] = meaning
    return meaning


def read_manifest(cache: Path) -> dict[str, Any]:
    try:
        content = _read_bounded(cache / MANIFEST_FILE, MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        raise NoBuildError(f"{cache / MANIFEST_FILE} is missing") from None
    except OSError as exc:
        raise _corrupt(cache, f"cannot read {MANIFEST_FILE} ({_detail(exc)})") from None
    try:
        manifest = json.loads(content.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _corrupt(cache, f"{MANIFEST_FILE} is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise _corrupt(cache, f"{MANIFEST_FILE} is not a JSON object")
    return manifest


def load(cache: Path, route_dir: str | None = None) -> Cache:
    """Read and verify the cache: format version, SHA-256, then a global-free unpickle.

    `route_dir` is the project's setting: the records must name files under it, whatever
    folder a (possibly forged) manifest claims.
    """
    with locked(cache.parent, exclusive=False):
        if not cache.is_dir():
            raise NoBuildError(f"{cache} does not exist")
        manifest = read_manifest(cache)
        try:
            data = _read_bounded(cache / DATA_FILE, MAX_DATA_BYTES)
        except FileNotFoundError:
            raise _corrupt(cache, f"{DATA_FILE} is missing") from None
        except OSError as exc:
            raise _corrupt(cache, f"cannot read {DATA_FILE} ({_detail(exc)})") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise CacheError(
            f"The build cache at {cache} has format {version!r}, made by fastapi-route "
            f"{manifest.get('fastapi_route_version', '?')}; this version {__version__} reads "
            f"format {FORMAT_VERSION}.",
            MEND_HINT,
        )
    _check_manifest(cache, manifest)
    if route_dir is not None and manifest.get("route_dir") != route_dir:
        raise CacheError(
            f"The build cache at {cache} was built from {manifest.get('route_dir')!r}, but the "
            f"project's route_dir is {route_dir!r}.",
            "fastapi-route build --force",
        )
    if hashlib.sha256(data).hexdigest() != manifest["routes_sha256"]:
        raise _corrupt(cache, f"{DATA_FILE} does not match the SHA-256 in {MANIFEST_FILE}")
    try:
        routes = _decode(data)
    except Exception as exc:  # zlib.error, UnpicklingError, ValueError, EOFError...
        raise _corrupt(cache, f"{DATA_FILE} cannot be decoded ({_detail(exc)})") from None
    if manifest.get("total_routes") != len(routes):
        raise _corrupt(cache, f"{MANIFEST_FILE} counts {manifest.get('total_routes')} routes, "
                              f"{DATA_FILE} holds {len(routes)}")
    wrong = _where_routes_are(manifest, routes)
    if wrong is not None:
        raise _corrupt(cache, _detail(ValueError(wrong)))
    return Cache(manifest, routes)
