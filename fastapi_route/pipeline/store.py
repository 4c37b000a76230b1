"""The cache folder on disk: locking, atomic writes, bounded reads, removal.

Writers hold an exclusive lock on the folder holding the cache; readers hold a shared lock
while they read both files, so a reader never sees a writer part-way. A writer must also
survive dying (SIGKILL, a power cut) or failing (a full disk, an I/O error) at any call, so
`save` removes or replaces nothing old before every new file is complete on disk:

1. Stage: each new file is written to a `.NAME.XXXX.tmp` file in the cache folder and fsynced,
   then the folder is fsynced. Nothing old has been touched: a failure here removes the temps.
2. Swap: .gitignore is renamed in (it holds `*` whoever wrote it). When routes.dat changes
   (or openapi.json, the document made at build, comes, changes or goes), manifest.json is
   renamed aside to `.manifest.json.old.tmp`, which retracts the build, and each changed file
   to `.NAME.old.tmp`; the new ones are renamed in. Then the new
   manifest.json (from this rename on the new build is there; with the same data it is the
   only rename, atomic, and the old build stands until it); the folder is fsynced.
3. Undo: when a call of step 2 fails, the new manifest.json is removed if it got in (and the
   new routes.dat if there was none before), and the old files are renamed back, data first:
   renames onto names the folder held a moment ago need no new space. The old files are back,
   byte for byte, and the error says so.
4. Drop: the old files set aside are removed (if that fails, they are temp files, see below).

A writer that fails leaves the old files. Two renames cannot be one atomic step, so between
the retraction and the new manifest there is no manifest.json, never a manifest beside data it
does not describe: a writer killed at any moment leaves the old pair, the new pair or (killed
while swapping new data in, or undoing that) no manifest, plus temp files the next writer
removes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import FastAPIRouteError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, renames still atomic
    fcntl = None  # type: ignore[assignment]

DATA_FILE = "routes.dat"
MANIFEST_FILE = "manifest.json"
OPENAPI_FILE = "openapi.json"  # the OpenAPI document made at build (build.openapi), if any
GITIGNORE_FILE = ".gitignore"
GITIGNORE = b"*\n"
OUR_FILES = (DATA_FILE, MANIFEST_FILE, GITIGNORE_FILE, OPENAPI_FILE)
PAYLOADS = (DATA_FILE, OPENAPI_FILE)  # the files the manifest describes, renamed in before it
TEMP_SUFFIX = ".tmp"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(
    os, "O_BINARY", 0)
# A folder fsync these say is not supported is skipped; any other error (EIO) is a failure.
_NO_FOLDER_FSYNC = {errno.EINVAL, errno.EBADF, errno.EACCES, errno.EISDIR,
                    getattr(errno, "ENOTSUP", errno.EINVAL), getattr(errno, "EOPNOTSUPP",
                                                                     errno.EINVAL)}


class SaveError(FastAPIRouteError):
    """The cache could not be written or removed (a permission, a file in a folder's place, a
    full or failing disk)."""


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


def aside(name: str) -> str:
    """Where `save` keeps the old `name` until the new build is in (a temp file's name)."""
    return f".{name}.old{TEMP_SUFFIX}"


def _stage(cache: Path, name: str, content: bytes) -> Path:
    """`content` in a new temp file beside `name`, fsynced; nothing is left if that fails."""
    temp = cache / f".{name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    fd = os.open(temp, _CREATE, 0o600)
    try:
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temp, 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return temp


def _fsync_dir(folder: Path) -> None:
    """Make the names in `folder` durable: the staged temps before any old name goes, and the
    swap before the old files are dropped."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # a folder cannot be opened here (Windows)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_FOLDER_FSYNC:
            raise
    finally:
        os.close(fd)


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _remove_temp_files(cache: Path) -> None:
    """Leftovers of a writer killed mid-way; only called under the exclusive lock."""
    for leftover in cache.glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            os.unlink(leftover)


@dataclass
class _Outcome:
    """What a failed save can truthfully say about the cache it leaves."""

    had_build: bool = False
    left: str = "old"  # "old", "new" (in place, maybe not on the disk yet) or "none"


_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def save(cache: Path, data: bytes, manifest: bytes, *, force: bool = False,
         document: bytes | None = None) -> Path:
    """Write the cache into `cache`; with `force`, write every file even if its bytes are
    there already, and first delete a file or link in the folder's place. `document` is
    openapi.json's bytes; without one, an openapi.json of a previous build goes with it.

    An OS error (no permission, a file where a folder must be, a full or failing disk) is a
    SaveError naming the path and saying whether the previous build is kept (it is, unless
    putting it back failed too).
    """
    outcome = _Outcome()
    try:
        return _save(cache, {DATA_FILE: data, OPENAPI_FILE: document}, manifest, force,
                     outcome)
    except OSError as exc:
        raise _save_error(cache, exc, outcome) from None


def _save_error(cache: Path, exc: OSError, outcome: _Outcome) -> SaveError:
    reason = exc.strerror or str(exc)
    if exc.errno in _FULL:
        where, what = cache, f"the disk is full ({reason})"
        hint = (f"free some space on the disk holding {cache} (or set build.cache_dir in "
                "config.py to another disk), then build again")
    elif exc.errno == errno.EIO:
        where, what = cache, f"an I/O error ({reason})"
        hint = f"check the disk holding {cache} (the kernel log says more), then build again"
    else:
        named = Path(exc.filename) if exc.filename else cache
        temp = named.name.startswith(".") and named.name.endswith(TEMP_SUFFIX)
        where, what = (named.parent if temp else named), reason
        hint = (f"make {cache} a folder you can write (or set build.cache_dir in config.py), "
                "then build again")
    message = f"cannot write the build cache: {where}: {what}"
    if outcome.left == "new":
        message += "; the new build is in place, but may not be on the disk yet"
    elif outcome.had_build and outcome.left == "old":
        message += "; the previous build is kept"
    elif outcome.had_build:
        message += (f"; the previous build could not be put back either (its files are "
                    f"{aside(MANIFEST_FILE)} and {aside(DATA_FILE)} until the next build)")
    return SaveError(message, hint)


def _save(cache: Path, payloads: dict[str, bytes | None], manifest: bytes, force: bool,
          outcome: _Outcome) -> Path:
    cache.parent.mkdir(parents=True, exist_ok=True)
    with locked(cache.parent, exclusive=True):
        if force and (cache.is_symlink() or not cache.is_dir()):
            _remove(cache, lock=False)  # a link or file in the folder's place: nothing to keep
        cache.mkdir(parents=True, exist_ok=True)
        _remove_temp_files(cache)
        outcome.had_build = _exists(cache / MANIFEST_FILE)
        staged: dict[str, Path] = {}
        dropped: list[str] = []  # payloads the new build has not: set aside, then removed
        try:
            if not _same_bytes(cache / GITIGNORE_FILE, GITIGNORE):
                staged[GITIGNORE_FILE] = _stage(cache, GITIGNORE_FILE, GITIGNORE)
            for name, content in payloads.items():
                if content is None:
                    if _exists(cache / name):
                        dropped.append(name)
                elif force or not _same_bytes(cache / name, content):
                    staged[name] = _stage(cache, name, content)
            staged[MANIFEST_FILE] = _stage(cache, MANIFEST_FILE, manifest)
            _fsync_dir(cache)
            _swap(cache, staged, dropped, outcome)
        finally:
            for temp in staged.values():  # those not renamed in: a failure part-way
                with contextlib.suppress(OSError):
                    os.unlink(temp)
    return cache


def _swap(cache: Path, staged: dict[str, Path], dropped: list[str], outcome: _Outcome) -> None:
    """Steps 2-4 of the module's docstring; `staged` loses each temp as it is renamed in."""
    if GITIGNORE_FILE in staged:
        os.replace(staged[GITIGNORE_FILE], cache / GITIGNORE_FILE)
        del staged[GITIGNORE_FILE]
    set_aside: list[str] = []
    placed: list[str] = []
    try:
        # New data: retract the build first (the manifest aside), so no moment has the old
        # manifest beside the new data. The same data: the manifest is one atomic rename, and
        # a writer killed before it leaves the old build whole.
        changed = [name for name in PAYLOADS if name in staged or name in dropped]
        if changed:
            for name in (MANIFEST_FILE, *changed):
                if _put_aside(cache, name):
                    set_aside.append(name)
        for name in (*PAYLOADS, MANIFEST_FILE):  # the manifest last: it makes the new build
            if name in staged:
                os.replace(staged[name], cache / name)
                del staged[name]
                placed.append(name)
        _fsync_dir(cache)
    except BaseException:
        outcome.left = _undo(cache, set_aside, placed)
        raise
    for name in set_aside:  # the new build is in: a leftover is a temp the next writer removes
        with contextlib.suppress(OSError):
            os.unlink(cache / aside(name))


def _put_aside(cache: Path, name: str) -> bool:
    """Rename the old `name` to its aside name; False if there is none (or a folder, which is
    not ours: renaming the new file onto it fails and says so)."""
    try:
        if stat.S_ISDIR(os.lstat(cache / name).st_mode):
            return False
    except FileNotFoundError:
        return False
    os.replace(cache / name, cache / aside(name))
    return True


def _undo(cache: Path, set_aside: list[str], placed: list[str]) -> str:
    """Step 3: the old files back where they were. What is left: "old", or if a call of this
    fails too, "new" (the new pair, untouched) or "none" (no manifest)."""
    left = "new" if MANIFEST_FILE in placed else "none" if set_aside else "old"
    try:
        if MANIFEST_FILE in placed:  # first, so it never stands beside the old data
            os.unlink(cache / MANIFEST_FILE)
            left = "none"
        for name in placed:  # a payload that had no old file to come back over it
            if name != MANIFEST_FILE and name not in set_aside:
                os.unlink(cache / name)
        for name in reversed(set_aside):  # the data, then the manifest
            os.replace(cache / aside(name), cache / name)
    except OSError:
        return left
    with contextlib.suppress(OSError):
        _fsync_dir(cache)
    return "old"


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
