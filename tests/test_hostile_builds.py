"""Concurrent and interrupted builds: whatever happens to a build, the cache is the previous
valid one, the new valid one, or none (the loader's NoBuildError), never a half-written or
mismatched pair; a reader loading in a loop meanwhile never sees a broken cache; and after a
later successful build no temp files are left.

Three angles: a build killed before and after every file-system step it takes (fork and
SIGKILL, deterministic), many real `python -m fastapi_route build` processes at once with
readers in other processes, and real builds SIGKILLed at random moments over several rounds.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import child_env, run_cli

from fastapi_route.config import load_config
from fastapi_route.errors import CacheError, NoBuildError
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline import store
from fastapi_route.pipeline.build import build, compile_table
from fastapi_route.table import RouteEntry

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="fork, flock and SIGKILL are POSIX"),
]

ROUTE = "def GET(request):\n    return {}\n"


def tree(generation: int, size: int = 120) -> dict[str, str]:
    """A tree whose table differs per generation, so every build writes other bytes."""
    files = {f"routes/area{i % 8}/item{i}/route.py": ROUTE for i in range(size)}
    files["routes/index.py"] = ROUTE
    for g in range(generation + 1):
        files[f"routes/gen/g{g}/[id]/route.py"] = "def GET(request, id):\n    return {}\n"
    return files


def write(root: Path, files: dict[str, str]) -> None:
    gen = root / "routes" / "gen"
    if gen.exists():
        shutil.rmtree(gen)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def table_of(root: Path) -> list[RouteEntry]:
    return compile_table(root, load_config(root)).routes


def state(cache: Path) -> tuple[str, Any]:
    """("none", None), ("ok", routes) or ("broken", message): what a reader sees now."""
    try:
        return "ok", cache_io.load(cache).routes
    except NoBuildError:
        return "none", None
    except CacheError as exc:
        return "broken", str(exc)


def temp_files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob(f".*{store.TEMP_SUFFIX}")) if cache.is_dir() else []


def assert_clean_after_build(root: Path, expected: list[RouteEntry]) -> None:
    result = run_cli(["build", "--project", str(root)], cwd=root.parent)
    assert result.returncode == 0, result.stdout
    cache = root / ".cache"
    assert temp_files(cache) == []
    assert sorted(p.name for p in cache.iterdir()) == [".gitignore", "manifest.json", "routes.dat"]
    assert state(cache) == ("ok", expected)


# --------------------------------------------------------------------------- every step

# The calls through which a build changes the file system (and opens its lock and temp files).
STEPS = ("open", "mkdir", "rmdir", "unlink", "replace", "rename", "fsync", "chmod")


def build_killed_at(root: Path, force: bool, step: int, after: bool) -> bool:
    """Run a build in a forked child that SIGKILLs itself right before (or after) its
    `step`-th file-system call; True if it was killed, False if it finished first."""
    config = load_config(root)
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            count = 0

            def wrap(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
                def call(*args: Any, **kwargs: Any) -> Any:
                    nonlocal count
                    count += 1
                    if count == step and not after:
                        os.kill(os.getpid(), signal.SIGKILL)
                    try:
                        return real(*args, **kwargs)
                    finally:  # raised or not (mkdir of a folder that exists raises)
                        if count == step and after:
                            os.kill(os.getpid(), signal.SIGKILL)

                return call

            for name in STEPS:
                setattr(os, name, wrap(name, getattr(os, name)))
            build(root, config, force=force)
            os._exit(0)
        except BaseException:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, "the build failed by itself"
    return False


@pytest.mark.parametrize("force", [False, True], ids=["build", "build-force"])
def test_a_build_killed_at_any_step_leaves_old_new_or_none(tmp_path: Path, force: bool) -> None:
    root = tmp_path / "app"
    write(root, tree(0, size=20))
    build(root, load_config(root))
    cache = root / ".cache"
    seen: dict[str, int] = {"old": 0, "new": 0, "none": 0}
    step = 0
    while True:
        step += 1
        finished = False
        for after in (False, True):
            before = state(cache)
            for variant in (step % 2, 1 - step % 2):  # a tree the cache does not hold: each
                write(root, tree(variant, size=20))  # build changes data (a killed build
                new = table_of(root)  # leaves the old table, so alternating is not enough)
                if before != ("ok", new):
                    break
            assert before[0] in ("ok", "none"), before
            killed = build_killed_at(root, force, step, after)
            finished = finished or not killed
            now = state(cache)
            where = f"killed {'after' if after else 'before'} file-system call {step}"
            assert now[0] != "broken", f"{where}: {now[1]}"
            if now[0] == "none":
                seen["none"] += 1
            elif now == before:
                seen["old"] += 1
            else:
                assert now == ("ok", new), where
                seen["new"] += 1
            if killed:
                continue
            assert temp_files(cache) == [], where
        if finished:
            break
        assert step < 200, "a build should take far fewer file-system calls"
    assert step > 5 and seen["old"] and seen["new"], seen
    print(f"killed at each of {step - 1} file-system calls: {seen}")
    assert_clean_after_build(root, table_of(root))


# --------------------------------------------------------------------------- processes

READER = r"""
import json, sys, time
from pathlib import Path
from fastapi_route.errors import CacheError, NoBuildError
from fastapi_route.pipeline import cache
path, stop, started = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
counts = {"ok": 0, "none": 0, "broken": 0}
tables = set()
first_broken = None
while not stop.exists():
    try:
        loaded = cache.load(path)
        counts["ok"] += 1
        tables.add(loaded.manifest.routes_sha256)
        started.touch()
        if len(loaded.routes) != loaded.manifest.total_routes:
            raise AssertionError("counts differ")
    except NoBuildError:
        counts["none"] += 1
    except CacheError as exc:
        counts["broken"] += 1
        first_broken = first_broken or str(exc)
    time.sleep(0.001)
print(json.dumps({"counts": counts, "tables": len(tables), "first_broken": first_broken}))
"""


@contextlib.contextmanager
def readers(cache: Path, n: int = 2) -> Iterator[list[dict[str, Any]]]:
    """`n` processes loading the cache in a loop until the block ends; their reports."""
    stop = cache.parent.parent / f"stop-{cache.parent.name}"
    stop.unlink(missing_ok=True)
    started = [cache.parent.parent / f"started-{cache.parent.name}-{i}" for i in range(n)]
    for marker in started:
        marker.unlink(missing_ok=True)
    procs = [
        subprocess.Popen([sys.executable, "-c", READER, str(cache), str(stop), str(marker)],
                         env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for marker in started
    ]
    reports: list[dict[str, Any]] = []
    try:
        # Each has loaded the cache once before anything changes it (a fixed sleep was not
        # enough on a busy machine: a reader that started after the last build saw one table).
        deadline = time.monotonic() + 60
        while not all(marker.exists() for marker in started):
            assert time.monotonic() < deadline, "a reader never loaded the cache"
            assert all(proc.poll() is None for proc in procs), "a reader stopped"
            time.sleep(0.01)
        yield reports
    finally:
        stop.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            reports.append(json.loads(out))


def cli(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fastapi_route", *args, "--project", str(root)],
        cwd=root.parent, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )


BLOCKED = "waiting for the lock\n"


def waiting_build(root: Path) -> subprocess.Popen[str]:
    """`fastapi-route build`, which prints BLOCKED when a lock it asks for is taken (tried
    without blocking first), then waits for it as usual."""
    return subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, runpy, sys\n"
         "real = fcntl.flock\n"
         "def flock(fd, operation):\n"
         "    if operation & fcntl.LOCK_UN:\n"
         "        return real(fd, operation)\n"
         "    try:\n"
         "        return real(fd, operation | fcntl.LOCK_NB)\n"
         "    except BlockingIOError:\n"
         f"        print({BLOCKED!r}, end='', flush=True)\n"
         "    return real(fd, operation)\n"
         "fcntl.flock = flock\n"
         "sys.argv = ['fastapi-route', 'build', '--project', sys.argv[1]]\n"
         "runpy.run_module('fastapi_route', run_name='__main__')\n", str(root)],
        cwd=root.parent, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )


def until_blocked(proc: subprocess.Popen[str]) -> list[str]:
    """The lines `proc` printed up to BLOCKED, or to its end if it never blocked."""
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if line == BLOCKED:
            break
    return lines


def test_many_builds_at_once_with_readers(tmp_path: Path) -> None:
    """Twelve builds at once (plain and --force, every compression level, so each writes other
    bytes) while two other processes load in a loop: every load succeeds."""
    root = tmp_path / "app"
    write(root, tree(0, size=300))
    assert cli(root, "build", "--compression", "9").wait() == 0
    cache = root / ".cache"
    expected = table_of(root)
    with readers(cache) as reports:
        builders = [  # levels 1-8: whichever lands last, the bytes differ from the first build's
            cli(root, "build", "--compression", str(1 + i % 8),
                *(["--force"] if i % 3 == 0 else []))
            for i in range(12)
        ]
        for b in builders:
            out = b.communicate(timeout=120)[0]
            assert b.returncode == 0, out
    for report in reports:
        assert report["counts"]["broken"] == 0, report
        assert report["counts"]["none"] == 0, report  # --force clears and rewrites under a lock
        assert report["counts"]["ok"] >= 20, report
        assert report["tables"] >= 2, report  # it saw the builds land
    print(f"twelve builds at once; readers: {reports}")
    assert temp_files(cache) == []
    assert state(cache) == ("ok", expected)
    status = run_cli(["status", "--project", str(root)], cwd=tmp_path)
    assert status.returncode == 0, status.stdout


def test_builds_killed_at_random_moments(tmp_path: Path) -> None:
    """Rounds of 1-3 builds (plain, --force, or a clean) on a changed tree, SIGKILLed after a
    random delay, with a reader running throughout: the cache after each round is the one
    before it, the new one, or none; never broken."""
    seed = int(os.environ.get("FASTAPI_ROUTE_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    root = tmp_path / "app"
    write(root, tree(0))
    assert cli(root, "build").wait() == 0
    cache = root / ".cache"
    started = time.monotonic()
    probe = cli(root, "build")
    assert probe.wait() == 0
    duration = time.monotonic() - started  # one build, start to end
    outcomes: dict[str, int] = {"old": 0, "new": 0, "none": 0}
    with readers(cache, n=1) as reports:
        for generation in range(1, 16):
            write(root, tree(generation))
            new = table_of(root)
            before = state(cache)
            procs = [
                cli(root, *rng.choice([["build"], ["build"], ["build", "--force"], ["clean"]]))
                for _ in range(rng.randint(1, 3))
            ]
            time.sleep(rng.uniform(0.0, duration * 1.3))
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGKILL)
            for proc in procs:
                proc.communicate(timeout=60)
            now = state(cache)
            where = f"round {generation} (seed {seed})"
            assert now[0] != "broken", f"{where}: {now[1]}"
            if now[0] == "none":
                outcomes["none"] += 1
            elif now == before:
                outcomes["old"] += 1
            else:
                assert now == ("ok", new), where
                outcomes["new"] += 1
    for report in reports:
        assert report["counts"]["broken"] == 0, (report, seed)
        assert report["counts"]["ok"] > 0, (report, seed)
    assert_clean_after_build(root, table_of(root))
    print(f"killed builds (seed {seed}): {outcomes}; reader: {reports}")


def test_a_build_killed_while_others_wait_for_the_lock(tmp_path: Path) -> None:
    """SIGKILL the build holding the lock (stopped mid-write): the kernel drops its lock, the
    waiting builds go on, and the result is complete."""
    import fcntl  # POSIX, as the whole module
    root = tmp_path / "app"
    write(root, tree(0))
    assert cli(root, "build").wait() == 0
    write(root, tree(1))
    cache = root / ".cache"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import os, signal, sys\n"
         "from pathlib import Path\n"
         "from fastapi_route.config import load_config\n"
         "from fastapi_route.pipeline import store, build\n"
         "real = store._stage\n"
         "def stop(cache, name, content):\n"
         "    if name == 'manifest.json':\n"
         "        print('holding', flush=True)\n"
         "        os.kill(os.getpid(), signal.SIGSTOP)\n"
         "    return real(cache, name, content)\n"
         "store._stage = stop\n"
         "root = Path(sys.argv[1])\n"
         "build.build(root, load_config(root))\n", str(root)],
        env=child_env(), stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    # Stopped between staging routes.dat and manifest.json, lock held: no reader can get in.
    waiting = [waiting_build(root) for _ in range(3)]
    for w in waiting:
        seen = until_blocked(w)
        assert seen[-1:] == [BLOCKED], "a build went ahead while the lock was held:\n" + "".join(
            seen)
    # Each is inside flock() now, and only the holder's death can let it out.
    assert all(w.poll() is None for w in waiting), "the lock did not hold them back"
    fd = os.open(root, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # not even a reader gets in
    finally:
        os.close(fd)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    for w in waiting:
        out = w.communicate(timeout=60)[0]
        assert w.returncode == 0, out
    assert temp_files(cache) == []
    assert state(cache) == ("ok", table_of(root))
