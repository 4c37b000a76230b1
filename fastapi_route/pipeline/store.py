"""The cache folder on disk: locking, atomic writes, bounded reads, removal.

Writers hold an exclusive lock on the folder holding the cache and replace each file by
rename; readers hold a shared lock while they read both files. When routes.dat changes, the
writer first retracts manifest.json, then renames the new data and the new manifest in. So a
reader sees the old pair or the new pair, never a mix, and a writer killed at any moment leaves
the old pair, the new pair or no manifest at all (no build), plus temp files the next writer
removes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import FastAPIRouteError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, renames still atomic
    fcntl = None  # type: ignore[assignment]

DATA_FILE = "routes.dat"
MANIFEST_FILE = "manifest.json"
GITIGNORE_FILE = ".gitignore"
OUR_FILES = (DATA_FILE, MANIFEST_FILE, GITIGNORE_FILE)
TEMP_SUFFIX = ".tmp"


class SaveError(FastAPIRouteError):
    """The cache could not be written or removed (a permission, a file in a folder's place)."""


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


def save(cache: Path, data: bytes, manifest: bytes, *, force: bool = False) -> Path:
    """Write the cache into `cache`; with `force`, first delete what the folder held.

    An OS error (no permission, a file where a folder must be, a full disk) is a SaveError
    naming the path; what was there before stays as the protocol above leaves it.
    """
    try:
        return _save(cache, data, manifest, force)
    except OSError as exc:
        where = exc.filename or cache
        raise SaveError(
            f"cannot write the build cache: {where}: {exc.strerror or exc}",
            f"make {cache} a folder you can write (or set build.cache_dir in config.py), "
            "then build again",
        ) from None


def _save(cache: Path, data: bytes, manifest: bytes, force: bool) -> Path:
    cache.parent.mkdir(parents=True, exist_ok=True)
    with locked(cache.parent, exclusive=True):
        if force:
            _remove(cache, lock=False)
        cache.mkdir(parents=True, exist_ok=True)
        _remove_temp_files(cache)
        _write_atomic(cache / GITIGNORE_FILE, b"*\n")
        if not _same_bytes(cache / DATA_FILE, data):
            # Two renames cannot be one atomic step: retract the manifest first, so a writer
            # killed between them leaves "no build", never new data under the old manifest.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(cache / MANIFEST_FILE)
            _write_atomic(cache / DATA_FILE, data)
        _write_atomic(cache / MANIFEST_FILE, manifest)
        _fsync_dir(cache)
    return cache


def size(cache: Path) -> int:
    """Bytes of the cache's files as they are now (another build may be replacing them)."""
    total = 0
    for name in OUR_FILES:
        with contextlib.suppress(OSError):
            total += (cache / name).stat().st_size
    return total


def remove(cache: Path, *, lock: bool = True) -> list[str]:
    """Delete the cache folder; files we did not write are kept (and named) instead."""
    try:
        return _remove(cache, lock)
    except OSError as exc:
        raise SaveError(
            f"cannot remove the build cache: {exc.filename or cache}: {exc.strerror or exc}",
            f"check the permissions of {cache}",
        ) from None


def _remove(cache: Path, lock: bool) -> list[str]:
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


def read_bounded(path: Path, limit: int) -> bytes:
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
