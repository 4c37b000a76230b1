"""config.py's `health` probes (SPEC 13.1): liveness, readiness, and `run` binding before the
route files are imported when a readiness path says when they all are."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fastapi_route.project import Project
from fastapi_route.runtime import health
from fastapi_route.runtime.app import create_app, runtime_of
from tests.conftest import write_tree
from tests.servers import Server, poll, run_args, run_cli

HEALTH = "health = {'ready': '/readyz', 'live': '/livez'}\n"
TREE = {
    "config.py": HEALTH,
    "routes/index.py": "def GET(request):\n    return {'page': 'home'}\n",
    "routes/items/[item_id]/route.py": (
        "def GET(request, item_id: int):\n    return {'item': item_id}\n"
    ),
    # A root layout whose dependency refuses every request: the probes are under no layout.
    "routes/_layout.py": (
        "from fastapi import Depends, Header, HTTPException\n"
        "def key(x_key: str = Header('')):\n"
        "    if x_key != 'k':\n"
        "        raise HTTPException(401)\n"
        "dependencies = [Depends(key)]\n"
    ),
}
KEY = {"x-key": "k"}


def _tree(tmp_path: Path, **files: str) -> Path:
    return write_tree(tmp_path / "app", {**TREE, **files})


def test_the_probes_answer_outside_every_layout_and_the_document(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    with TestClient(create_app(Project(root), source="scan")) as client:
        assert client.get("/").status_code == 401  # the layout applies to the routes
        assert client.get("/", headers=KEY).json() == {"page": "home"}
        ready, live = client.get("/readyz"), client.get("/livez")
        assert (ready.status_code, ready.text) == (200, "ready")
        assert (live.status_code, live.text) == (200, "alive")
        assert ready.headers["cache-control"] == "no-store"
        assert client.head("/readyz").status_code == 200
        assert client.post("/readyz").status_code == 405
        paths = client.get("/openapi.json", headers=KEY).json()["paths"]
        assert "/readyz" not in paths and "/livez" not in paths
        assert "/items/{item_id}" in paths


def test_no_probe_unless_configured(tmp_path: Path) -> None:
    root = _tree(tmp_path, **{"config.py": "health = {'live': '/livez'}\n"})
    with TestClient(create_app(Project(root), source="scan")) as client:
        assert client.get("/livez").status_code == 200
        assert client.get("/readyz").status_code == 404


def test_a_root_catch_all_does_not_take_the_probes(tmp_path: Path) -> None:
    root = _tree(tmp_path, **{
        "routes/[...rest]/route.py": "def GET(request, rest: list[str]):\n    return rest\n"})
    with TestClient(create_app(Project(root), source="scan")) as client:
        assert client.get("/readyz").text == "ready"
        assert client.get("/a/b", headers=KEY).json() == ["a", "b"]


def test_a_server_app_is_not_ready_until_every_file_is_imported(tmp_path: Path) -> None:
    """Made for a server with a readiness path, the app imports its route files once its
    lifespan has started; until then the probe says 503, and a request imports what its
    route needs."""
    root = _tree(tmp_path)
    app = create_app(Project(root), source="scan", server=True)
    file_routes = runtime_of(app).file_routes
    assert not file_routes.imported
    modules = runtime_of(app).modules
    route_module = modules.module_name("routes/items/[item_id]/route.py")
    assert route_module not in sys.modules

    client = TestClient(app)  # no lifespan: nothing imports the rest
    not_ready = client.get("/readyz")
    assert (not_ready.status_code, not_ready.text) == (503, "starting")
    assert client.get("/items/3", headers=KEY).json() == {"item": 3}  # imported for it
    assert route_module in sys.modules
    assert client.get("/readyz").status_code == 503  # index.py is still not imported
    assert client.get("/livez").status_code == 200

    with TestClient(app) as started:
        started.portal.call(_until_imported, file_routes)
        assert started.get("/readyz").text == "ready"
        assert started.get("/", headers=KEY).json() == {"page": "home"}


async def _until_imported(file_routes: object) -> None:
    import anyio

    while not file_routes.imported:  # type: ignore[attr-defined]
        await anyio.sleep(0.01)


def test_without_a_readiness_path_a_server_app_imports_everything_first(
        tmp_path: Path) -> None:
    root = _tree(tmp_path, **{"config.py": "health = {'live': '/livez'}\n"})
    app = create_app(Project(root), source="scan", server=True)
    assert runtime_of(app).file_routes.imported


def test_a_stop_signal_makes_the_readiness_path_say_draining(tmp_path: Path) -> None:
    """SIGTERM while the probes are watched: 503 'draining', and the server's own handler
    still runs (chained, not replaced)."""
    assert threading.current_thread() is threading.main_thread()
    root = _tree(tmp_path)
    seen: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with TestClient(create_app(Project(root), source="scan")) as client:
            with health.DRAINING.watching():
                assert client.get("/readyz").text == "ready"
                os.kill(os.getpid(), signal.SIGTERM)
                drained = client.get("/readyz")
                assert (drained.status_code, drained.text) == (503, "draining")
                assert client.get("/livez").status_code == 200
            assert seen == [signal.SIGTERM]
            assert signal.getsignal(signal.SIGTERM) is not None
        # a new serve starts undrained
        with health.DRAINING.watching():
            assert not health.DRAINING.is_set()
    finally:
        signal.signal(signal.SIGTERM, before)


# --------------------------------------------------------------------- checked at build


@pytest.mark.parametrize("value, message", [
    ("{'ready': 'readyz'}", "'health.ready' must be a plain URL path"),
    ("{'ready': '/items/{id}'}", "'health.ready' must be a plain URL path"),
    ("{'alive': '/livez'}", "'health.alive' is not a known setting"),
    ("'/readyz'", "'health' must be a dict"),
    ("{'ready': '/-/h', 'live': '/-/h'}",
     "'health.ready' and 'health.live' are the same path ('/-/h')"),
    ("{'ready': '/openapi.json'}", "'health.ready' ('/openapi.json') is the path of the "
                                   "OpenAPI document"),
    ("{'live': '/docs'}", "'health.live' ('/docs') is the path of the docs page"),
    ("{'live': '/redoc'}", "'health.live' ('/redoc') is the path of ReDoc"),
])
def test_a_wrong_health_setting_is_refused(tmp_path: Path, value: str, message: str) -> None:
    root = _tree(tmp_path, **{"config.py": f"health = {value}\n"})
    result = run_cli(["build", "--project", str(root)], cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert message in result.stdout and "config.py:1" in result.stdout
    assert "Traceback" not in result.stdout


def test_a_route_at_a_probe_path_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path, **{"routes/readyz/route.py": "def GET(request):\n    return 1\n"})
    result = run_cli(["build", "--project", str(root)], cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "SHADOWED_ROUTE" in result.stdout
    assert "the readiness path (/readyz) answers that URL first" in result.stdout
    assert "move the probe (health = {'ready': '/-/ready'} in config.py)" in result.stdout
    assert "docs_enabled" not in result.stdout  # the docs have nothing to do with it


# --------------------------------------------------------------------- a real `run`

# Each of these files takes a while to import: `run` is bound and answering meanwhile.
SLOW = "import time\ntime.sleep(0.25)\ndef GET(request):\n    return {'slow': %d}\n"


@pytest.mark.slow
def test_run_binds_first_and_is_ready_once_every_file_is_imported(tmp_path: Path) -> None:
    root = _tree(tmp_path, **{f"routes/slow{i}/route.py": SLOW % i for i in range(8)})
    assert run_cli(["build", "--project", str(root)],
                   cwd=tmp_path).returncode == 0
    with Server(run_args(root), cwd=tmp_path) as server:
        poll(lambda: server.get("/livez"), lambda r: r[0] == 200, server=server)
        # 8 files of 0.25 s: bound long before they are all imported
        assert server.get("/readyz")[0] == 503
        status, _, body = server.request("GET", "/items/7", headers=KEY)
        assert (status, body) == (200, b'{"item":7}')
        poll(lambda: server.get("/readyz"), lambda r: r[0] == 200, server=server)
        assert server.request("GET", "/", headers=KEY)[0] == 200
        assert server.stop() == 0


@pytest.mark.slow
def test_run_stops_with_exit_1_naming_a_file_that_fails_after_the_bind(
        tmp_path: Path) -> None:
    root = _tree(tmp_path, **{
        **{f"routes/slow{i}/route.py": SLOW % i for i in range(4)},
        # a root catch-all: last in the table, so imported last
        "routes/[...rest]/route.py": (
            "raise RuntimeError('no database')\n"
            "def GET(request, rest: list[str]):\n    return rest\n"),
    })
    assert run_cli(["build", "--project", str(root)],
                   cwd=tmp_path).returncode == 0
    with Server(run_args(root), cwd=tmp_path) as server:
        poll(lambda: server.get("/livez"), lambda r: r[0] == 200, server=server)
        assert server.get("/readyz")[0] == 503
        code = server.wait_exit()
        out = server.output()
    assert code == 1, out
    assert "routes/[...rest]/route.py:1: routes/[...rest]/route.py failed to import" in out
    assert "RuntimeError: no database" in out
    assert "Traceback" not in out


@pytest.mark.slow
def test_run_with_workers_binds_first_and_a_broken_file_stops_it(tmp_path: Path) -> None:
    """Each worker imports after it binds: ready once they have; a file that fails to import
    in a worker stops `run` (exit 1, the file named)."""
    root = _tree(tmp_path, **{f"routes/slow{i}/route.py": SLOW % i for i in range(8)})
    assert run_cli(["build", "--project", str(root)], cwd=tmp_path).returncode == 0
    with Server(run_args(root, "--workers", "2"), cwd=tmp_path) as server:
        poll(lambda: server.get("/livez"), lambda r: r[0] == 200, server=server, timeout=30)
        assert server.get("/readyz")[0] == 503
        poll(lambda: server.get("/readyz"), lambda r: r[0] == 200, server=server, timeout=30)
        assert server.request("GET", "/items/2", headers=KEY)[2] == b'{"item":2}'
        assert server.stop() == 0

    write_tree(root, {"routes/[...rest]/route.py": "import not_a_module_anywhere\n"
                                                   "def GET(request, rest: list[str]):\n"
                                                   "    return rest\n"})
    assert run_cli(["build", "--project", str(root)], cwd=tmp_path).returncode == 0
    with Server(run_args(root, "--workers", "2"), cwd=tmp_path) as server:
        code = server.wait_exit(timeout=60)
        out = server.output()
    assert code == 1, out
    assert "routes/[...rest]/route.py failed to import" in out
    assert "No module named 'not_a_module_anywhere'" in out
    assert "Traceback" not in out


def test_explain_names_the_probe(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert run_cli(["build", "--project", str(root)], cwd=tmp_path).returncode == 0
    result = run_cli(["explain", "GET", "/readyz", "--project", str(root)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "config.py's health probe (no layout applies)" in result.stdout


def test_under_lazy_a_broken_file_makes_the_app_not_ready(tmp_path: Path) -> None:
    """Lazy imports nothing before a request needs it: ready at once, `failed` (503) from the
    moment a request finds a file that does not import; the other routes still serve."""
    root = _tree(tmp_path, **{
        "config.py": HEALTH + "lazy = True\n",
        "routes/broken/route.py": "import not_a_module_anywhere\ndef GET(request):\n"
                                  "    return 1\n",
    })
    with TestClient(create_app(Project(root), source="scan", server=True)) as client:
        assert client.get("/readyz").text == "ready"
        assert client.get("/broken", headers=KEY).status_code == 500
        failed = client.get("/readyz")
        assert (failed.status_code, failed.text) == (503, "failed")
        assert client.get("/items/4", headers=KEY).json() == {"item": 4}


def test_a_file_that_fails_after_the_bind_makes_the_app_not_ready(tmp_path: Path) -> None:
    """Without `run`'s supervisor (another server) a warm app whose file fails to import
    after the bind keeps serving, but never says ready."""
    root = _tree(tmp_path, **{
        "routes/[...rest]/route.py": "raise RuntimeError('no database')\n"
                                     "def GET(request, rest: list[str]):\n    return rest\n",
    })
    app = create_app(Project(root), source="scan", server=True)
    with TestClient(app) as client:
        client.portal.call(_until_failed, runtime_of(app).file_routes)
        failed = client.get("/readyz")
        assert (failed.status_code, failed.text) == (503, "failed")
        assert client.get("/items/4", headers=KEY).json() == {"item": 4}


async def _until_failed(file_routes: object) -> None:
    import anyio

    while not file_routes.broken:  # type: ignore[attr-defined]
        await anyio.sleep(0.01)


def test_the_app_s_lifespan_marks_the_process_draining_on_sigterm(tmp_path: Path) -> None:
    """The lifespan of an app with a readiness path watches the stop signals itself (in the
    main thread, where a server's lifespan runs): after a SIGTERM the probe says draining,
    and the handler that was there (the server's) still runs."""
    import httpx

    root = _tree(tmp_path)
    app = create_app(Project(root), source="scan")
    seen: list[int] = []

    async def scenario() -> tuple[int, str]:
        async with app.router.lifespan_context(app):
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0)  # the handler runs between two bytecodes of this thread
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answer = await client.get("/readyz")
                return answer.status_code, answer.text

    before = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        assert asyncio.run(scenario()) == (503, "draining")
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is not before  # the recorder is back
    finally:
        signal.signal(signal.SIGTERM, before)
