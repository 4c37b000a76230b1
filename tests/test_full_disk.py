"""A full or failing disk while `build` saves: the previous build stays, byte for byte.

Issue 17: the old `save` removed manifest.json before writing the new files, so a full disk
part-way left the new routes.dat and no manifest, and `status` said "Not built". Here every
call through which `save` changes the disk (each create, write, fsync, chmod, close, rename and
unlink of store.py, counted by standing in for its `os`) is failed in turn, with ENOSPC and
with EIO, for `build` and `build --force`, through the CLI: each failure exits 1 saying the
disk is full (or an I/O error) and that the previous build is kept, the cache folder holds
exactly the bytes it held before (so no temp file either), and `status` and the loader still
see the previous build. The count runs on until a build finishes with no fault injected, so
no call is left out. A real 16 KB tmpfs checks the same end to end when mounting is allowed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fastapi_route.cli import main
from fastapi_route.errors import NoBuildError
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline import store
from fastapi_route.table import RouteEntry

ROUTE = "def GET(request):\n    return {}\n"
Snapshot = dict[str, bytes]


def add_routes(root: Path, first: int, count: int) -> None:
    for i in range(first, first + count):
        folder = root / "routes" / f"item{i}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "route.py").write_text(ROUTE, encoding="utf-8")


def snapshot(cache: Path) -> Snapshot:
    """Every entry of the cache folder and its bytes (a temp file left behind shows here)."""
    return {p.name: p.read_bytes() for p in sorted(cache.iterdir())}


def restore(cache: Path, files: Snapshot) -> None:
    for entry in cache.iterdir():
        entry.unlink()
    for name, content in files.items():
        (cache / name).write_bytes(content)


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def routes_of(cache: Path) -> list[RouteEntry]:
    return cache_io.load(cache, "routes").routes


# --------------------------------------------------------------------------- injected faults

# The calls of `os` that change the disk; `open` counts when it creates or opens for writing,
# `close` when it closes such a file (NFS reports a failed write at close).
CHANGING = frozenset({"write", "fsync", "chmod", "fchmod", "close", "replace", "rename", "link",
                      "unlink", "mkdir", "rmdir", "truncate", "ftruncate"})
WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT


class FaultyOS:
    """Stands in for `os` inside store.py: numbers the calls that change the disk and fails
    the `fail_at`-th with OSError(`code`) (without doing it; a close still closes)."""

    def __init__(self, fail_at: int, code: int, *, from_then_on: bool = False) -> None:
        self.fail_at = fail_at
        self.code = code
        self.from_then_on = from_then_on  # a dying disk: every later call fails too
        self.calls: list[str] = []
        self.fired: str | None = None
        self._writable: set[int] = set()

    def _count(self, name: str, args: tuple[Any, ...]) -> bool:
        shown = ", ".join(Path(a).name if isinstance(a, (str, Path)) else type(a).__name__
                          for a in args[:2])
        self.calls.append(f"{name}({shown})")
        if len(self.calls) < self.fail_at or (
            len(self.calls) > self.fail_at and not self.from_then_on
        ):
            return False
        self.fired = self.fired or self.calls[-1]
        return True

    def _fail(self) -> OSError:
        return OSError(self.code, os.strerror(self.code))

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if name == "open":
            def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
                if flags & WRITING and self._count(name, (path,)):
                    raise self._fail()
                fd: int = real(path, flags, *args, **kwargs)
                if flags & WRITING:
                    self._writable.add(fd)
                return fd
            return open_
        if name not in CHANGING:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "close":
                if args[0] not in self._writable:
                    return real(*args)
                self._writable.discard(args[0])
                if self._count(name, args):
                    real(*args)
                    raise self._fail()
                return real(*args)
            if self._count(name, args):
                raise self._fail()
            return real(*args, **kwargs)

        return call


FAULTS = {errno.ENOSPC: "the disk is full", errno.EIO: "I/O error"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / "routes").mkdir(parents=True)
    (root / "routes" / "index.py").write_text(ROUTE, encoding="utf-8")
    add_routes(root, 0, 3)
    return root


def assert_previous_build_kept(
    root: Path, before: Snapshot, old: list[RouteEntry], result: Result, what: str, where: str,
    *, new_gitignore: bool = False,
) -> None:
    """`new_gitignore`: the build was to add .gitignore; it is `*` whoever wrote it, so it is
    not taken out again when a later call fails."""
    cache = root / ".cache"
    assert result.exit_code == 1, f"{where}: {result.output}"
    assert "Traceback" not in result.output, where
    assert what in result.output, f"{where}: {result.output}"
    assert "the previous build is kept" in result.output, f"{where}: {result.output}"
    now = snapshot(cache)
    if new_gitignore and ".gitignore" in now:
        assert now.pop(".gitignore") == b"*\n", where
    assert now == before, where  # byte-identical, and no temp file left
    assert routes_of(cache) == old, where
    status = cli("status", "--project", str(root))
    assert status.exit_code == 0, f"{where}: {status.output}"
    assert "Built" in status.output and "Not built" not in status.output, where


@pytest.mark.skipif(sys.platform == "win32", reason="the folder fsync and renames are POSIX's")
@pytest.mark.parametrize("gitignore", [True, False], ids=["", "no-gitignore"])
@pytest.mark.parametrize("force", [False, True], ids=["build", "build-force"])
@pytest.mark.parametrize("code", sorted(FAULTS), ids=lambda c: errno.errorcode[c])
def test_a_fault_at_any_write_keeps_the_previous_build(
    project: Path, monkeypatch: pytest.MonkeyPatch, code: int, force: bool, gitignore: bool
) -> None:
    root = project
    cache = root / ".cache"
    assert cli("build", "--project", str(root)).exit_code == 0
    if not gitignore:  # someone deleted it: the build writes it too, one more file's calls
        (cache / ".gitignore").unlink()
    before, old = snapshot(cache), routes_of(cache)
    assert sorted(before) == [".gitignore", "manifest.json", "routes.dat"][1 - gitignore:]
    add_routes(root, 100, 20)  # new routes: new data and a new manifest to write
    args = ["build", "--project", str(root), *(["--force"] if force else [])]

    failed: list[str] = []
    cleanup: list[str] = []  # faults after the new build is in: removing the old files
    fail_at = 0
    while True:
        fail_at += 1
        faulty = FaultyOS(fail_at, code)
        with monkeypatch.context() as patched:
            patched.setattr(store, "os", faulty)
            result = cli(*args)
        if faulty.fired is None:
            break  # fewer calls than fail_at: every one of them has been failed
        where = f"{errno.errorcode[code]} at call {fail_at} of {faulty.calls}"
        if result.exit_code == 0 and faulty.fired.startswith("unlink(.") and ".old" in faulty.fired:
            # The new build is in; the old file set aside could not be removed. It is a temp
            # file, and the next build removes it.
            cleanup.append(faulty.fired)
            assert len(routes_of(cache)) == len(old) + 20, where
            assert cli(*args).exit_code == 0, where
            assert [n for n in snapshot(cache) if n.endswith(store.TEMP_SUFFIX)] == [], where
        else:
            failed.append(faulty.fired)
            assert_previous_build_kept(root, before, old, result, FAULTS[code], where,
                                       new_gitignore=not gitignore)
        restore(cache, before)
        assert fail_at < 100, "a save should take far fewer calls"

    # The same build with no fault: the new build, and nothing else, is in the folder.
    assert result.exit_code == 0, result.output
    assert len(faulty.calls) == fail_at - 1 == len(failed) + len(cleanup)
    assert len(routes_of(cache)) == len(old) + 20
    assert sorted(snapshot(cache)) == [".gitignore", "manifest.json", "routes.dat"]
    kinds = {call.split("(")[0] for call in failed}
    assert {"open", "write", "fsync", "close"} <= kinds and kinds & {"rename", "replace"}, kinds
    assert len(failed) >= (16 if gitignore else 21), failed
    print(f"{errno.errorcode[code]}, force={force}: {fail_at - 1} calls failed in turn; "
          f"{len(failed)} failed the build ({sorted(kinds)}), {len(cleanup)} came after it")


def test_a_disk_failing_from_any_call_on_never_leaves_a_mix(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EIO at every call from the Nth on, so putting the old files back fails too. The cache is
    the old build (the message says it is kept), the new one (if only the last folder fsync and
    the undo failed: the message says it is in place) or no build (the message says the old one
    could not be put back); never a manifest beside data it does not describe. Once the disk
    works, the next build removes every leftover."""
    root = project
    cache = root / ".cache"
    assert cli("build", "--project", str(root)).exit_code == 0
    before, old = snapshot(cache), routes_of(cache)
    add_routes(root, 100, 20)
    outcomes = {"old": 0, "new": 0, "none": 0, "built": 0}
    fail_at = 0
    while True:
        fail_at += 1
        faulty = FaultyOS(fail_at, errno.EIO, from_then_on=True)
        with monkeypatch.context() as patched:
            patched.setattr(store, "os", faulty)
            result = cli("build", "--project", str(root))
        if faulty.fired is None:
            break
        where = f"EIO from call {fail_at} on: {faulty.calls}\n{result.output}"
        try:
            now: list[RouteEntry] | None = routes_of(cache)  # never a CacheError: never a mix
        except NoBuildError:
            now = None
        if result.exit_code == 0:  # only removing the old files failed
            outcomes["built"] += 1
            assert faulty.fired.startswith("unlink(.") and ".old" in faulty.fired, where
            assert now is not None and len(now) == len(old) + 20, where
        elif now is None:
            outcomes["none"] += 1
            assert "could not be put back" in result.output, where
        elif now == old:
            outcomes["old"] += 1
            assert "the previous build is kept" in result.output, where
            assert {n: b for n, b in snapshot(cache).items()
                    if not n.endswith(store.TEMP_SUFFIX)} == before, where
        else:
            outcomes["new"] += 1
            assert len(now) == len(old) + 20, where
            assert "the new build is in place" in result.output, where
        assert result.exit_code == 0 or "I/O error" in result.output, where
        healed = cli("build", "--project", str(root))
        assert healed.exit_code == 0, f"{where}: {healed.output}"
        assert sorted(snapshot(cache)) == [".gitignore", "manifest.json", "routes.dat"], where
        restore(cache, before)
        assert fail_at < 100
    assert outcomes["old"] >= 10 and outcomes["none"] and outcomes["new"], outcomes
    print(f"EIO from each of {fail_at - 1} calls on: {outcomes}")


# --------------------------------------------------------------------------- a real tmpfs


@contextlib.contextmanager
def tmpfs(folder: Path, size: int) -> Iterator[None]:
    """A tmpfs of `size` bytes mounted on `folder` for the block; skips when mounting is not
    allowed here (not root, no mount(8), a container without CAP_SYS_ADMIN)."""
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root on Linux")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_real_full_disk_keeps_the_previous_build(project: Path) -> None:
    """Issue 17's report: `.cache` on a 16 KB tmpfs (four pages) holding a good build, 300 route
    folders added, `build`: ENOSPC. The old build stays, and once there is room it builds."""
    root = project
    cache = root / ".cache"
    with tmpfs(cache, 4 * os.sysconf("SC_PAGESIZE")):
        assert cli("build", "--project", str(root)).exit_code == 0
        before, old = snapshot(cache), routes_of(cache)
        add_routes(root, 100, 300)
        result = cli("build", "--project", str(root))
        assert_previous_build_kept(root, before, old, result, "the disk is full", "a full tmpfs")
        subprocess.run(["mount", "-o", "remount,size=1m", str(cache)], check=True)
        result = cli("build", "--project", str(root))
        assert result.exit_code == 0, result.output
        assert len(routes_of(cache)) == len(old) + 300
        assert sorted(snapshot(cache)) == [".gitignore", "manifest.json", "routes.dat"]
