"""The garbage collector around a start that serves at once (runtime/collector): `run --lazy`
and the Lambda handler hold it back while the app is made, then freeze what was made; the
other schedules leave it alone here (they freeze as they import). In a fresh interpreter each,
since the collector is process-wide."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_tree

ROUTES = {
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/users/[user_id=int]/route.py": """
        def GET(request, user_id: int):
            return {"user": user_id}
    """,
}

PROBE = """
import gc, json, sys
from pathlib import Path
from fastapi_route.config import load_config
from fastapi_route.project import find_project
from fastapi_route.serving import ProductionServer

project = find_project(Path(sys.argv[1]))
seen = []
gc.callbacks.append(lambda phase, info: seen.append(phase) if phase == "start" else None)
server = ProductionServer(project, load_config(project.root), schedule=sys.argv[2])
print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                  "collections": len(seen), "app": server.app is not None}))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_tree(tmp_path_factory.mktemp("collector") / "app", ROUTES)
    subprocess.run([sys.executable, "-m", "fastapi_route", "build", "--project", str(root)],
                   check=True, capture_output=True)
    return root


def start(root: Path, schedule: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(root), schedule],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_run_lazy_makes_its_app_without_a_collection_then_freezes_it(built: Path) -> None:
    seen = start(built, "lazy")
    assert seen == {"enabled": True, "frozen": seen["frozen"], "collections": 0, "app": True}
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000  # FastAPI's import too


def test_run_eager_leaves_the_collector_on(built: Path) -> None:
    seen = start(built, "eager")
    assert seen["enabled"] is True and seen["app"] is True
    assert isinstance(seen["collections"], int) and seen["collections"] > 0


@pytest.mark.parametrize("schedule", ["warm", "eager", "lazy"])
def test_the_cache_is_loaded_without_a_collection_whatever_the_schedule(
        built: Path, schedule: str) -> None:
    """The table lives as long as the app: decoding it sets off no collection (each would
    walk the heap so far), and the collector is as it was afterwards."""
    probe = """
import gc, json, sys
from pathlib import Path
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.runtime.app import create_app

loading = []
real = cache_io.load

def load(*args, **kwargs):
    loading.append(gc.isenabled())
    return real(*args, **kwargs)

cache_io.load = load
create_app(Path(sys.argv[1]), schedule=sys.argv[2])
print(json.dumps({"enabled during the load": loading, "enabled after": gc.isenabled()}))
"""
    done = subprocess.run([sys.executable, "-c", probe, str(built), schedule],
                          capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"enabled during the load": [False], "enabled after": True}


# A peak of blocks too large for Python's own allocator (glibc's), each 16th kept alive and the
# last one too: the freed memory lies between live blocks, where only malloc_trim reaches it.
PEAK = """
import json, sys
from pathlib import Path
from fastapi_route.runtime import collector

def rss_kib():
    status = Path("/proc/self/status").read_text()
    return int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1])

blocks = [bytes(4096) for _ in range(20_000)]  # 80 MiB
kept = blocks[::16] + [blocks[-1]]
del blocks
before = rss_kib()
asked = collector.give_back()
print(json.dumps({"asked": asked, "before": before, "after": rss_kib()}))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_give_back_returns_what_the_allocator_kept_from_a_peak_to_the_system() -> None:
    done = subprocess.run([sys.executable, "-c", PEAK], capture_output=True, text=True,
                          check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["asked"] is True
    # 75 MiB of the 80 were freed: most of it leaves the process
    assert seen["before"] - seen["after"] > 40 * 1024, seen


def test_give_back_without_malloc_trim_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the C library has no malloc_trim (musl, macOS) or there is none to load
    (Windows), nothing is asked and nothing fails."""
    import ctypes

    from fastapi_route.runtime import collector

    class NoTrim:
        def __init__(self, name: object) -> None:
            if name is None and sys.platform == "win32":
                raise TypeError("no C library")

        def __getattr__(self, name: str) -> object:
            raise AttributeError(name)

    monkeypatch.setattr(ctypes, "CDLL", NoTrim)
    collector._malloc_trim.cache_clear()
    try:
        assert collector.give_back() is False
        assert collector.give_back() is False  # looked up once, still nothing
    finally:
        collector._malloc_trim.cache_clear()  # the real one for the tests after
