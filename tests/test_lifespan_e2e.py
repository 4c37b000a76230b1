"""End to end: app.py's lifespan runs in every worker before it serves, and its shutdown half
runs on SIGTERM, under `run`, `run --workers 2`, `dev` and other servers through
`fastapi_route.asgi:app`. Observed from outside: the lifespan appends to a file. Each server
also holds a websocket conversation with a real client."""

from __future__ import annotations

import json
import signal
import sysconfig
from pathlib import Path

import pytest
from conftest import write_tree
from servers import Server, poll, run_cli
from websockets.sync.client import connect

pytestmark = pytest.mark.slow

PROJECT = {
    "app.py": """
        import os
        from contextlib import asynccontextmanager
        from pathlib import Path

        state = {}
        LOG = Path(os.environ["LIFESPAN_LOG"])


        def _note(event):
            with LOG.open("a") as f:
                f.write(f"{event} {os.getpid()}\\n")


        @asynccontextmanager
        async def lifespan(app):
            state["pid"] = os.getpid()
            _note("start")
            yield
            _note("stop")
    """,
    "routes/index.py": """
        from ..app import state

        def GET(request):
            return {"pid": state["pid"]}
    """,
    "routes/echo/[room]/route.py": """
        from ....app import state

        async def WEBSOCKET(websocket, room: str, shout: bool = False):
            await websocket.accept()
            text = await websocket.receive_text()
            reply = f"{room} {state['pid']}: {text}"
            await websocket.send_text(reply.upper() if shout else reply)
            await websocket.close()
    """,
}


def _events(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    return [(e, int(pid)) for e, pid in (line.split() for line in log.read_text().split("\n")
                                           if line)]


def _serve_and_stop(server: Server, log: Path, workers: int) -> list[tuple[str, int]]:
    """Wait until `workers` lifespans started and a request is answered by a started one,
    stop with SIGTERM, and return every event."""
    server.wait_ready("/")
    started = poll(lambda: _events(log), lambda ev: len({p for e, p in ev if e == "start"})
                   >= workers, server=server)
    pids = {p for _, p in started}
    status, _, body = server.get("/")
    assert status == 200, body
    assert json.loads(body)["pid"] in pids
    with connect(f"ws://127.0.0.1:{server.port}/echo/lobby?shout=true") as ws:
        ws.send("hi")
        room, pid, text = ws.recv(timeout=10).split()
        assert (room, text) == ("LOBBY", "HI") and int(pid.rstrip(":")) in pids
    server.proc.send_signal(signal.SIGTERM)
    server.wait_exit(timeout=30)
    return _events(log)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = write_tree(tmp_path / "app", PROJECT)
    log = tmp_path / "lifespan.log"
    assert run_cli(["build", "--project", str(root)], cwd=tmp_path).returncode == 0
    return root, {"LIFESPAN_LOG": str(log)}


@pytest.mark.parametrize("workers", [1, 2])
def test_run_starts_and_stops_the_lifespan_in_every_worker(project, tmp_path, workers):
    root, env = project
    server = Server(["fastapi_route", "run", "--project", str(root), "--host", "127.0.0.1",
                     "--port", "{port}", "--workers", str(workers)], cwd=tmp_path, env=env)
    with server:
        events = _serve_and_stop(server, Path(env["LIFESPAN_LOG"]), workers)
    starts = {p for e, p in events if e == "start"}
    stops = {p for e, p in events if e == "stop"}
    assert len(starts) == workers and stops == starts, events
    if workers > 1:
        assert server.proc.pid not in starts  # the workers ran it, not the supervisor


def test_dev_runs_the_lifespan(project, tmp_path):
    root, env = project
    with Server(["fastapi_route", "dev", "--project", str(root), "--port", "{port}"],
                cwd=tmp_path, env=env) as server:
        events = _serve_and_stop(server, Path(env["LIFESPAN_LOG"]), 1)
    assert [e for e, _ in events] == ["start", "stop"], events


@pytest.mark.parametrize("command", [
    ("gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "2", "-b", "127.0.0.1:{port}"),
    ("hypercorn", "-w", "2", "-b", "127.0.0.1:{port}"),
    ("granian", "--interface", "asgi", "--workers", "2", "--host", "127.0.0.1", "--port",
     "{port}"),
], ids=["gunicorn", "hypercorn", "granian"])
def test_other_servers_run_the_lifespan_in_every_worker(project, tmp_path, command):
    root, env = project
    script = Path(sysconfig.get_path("scripts")) / command[0]
    server = Server([str(script), *command[1:], "fastapi_route.asgi:app"], cwd=tmp_path,
                    env={**env, "FASTAPI_ROUTE_PROJECT": str(root)}, module=False)
    with server:
        events = _serve_and_stop(server, Path(env["LIFESPAN_LOG"]), 2)
    starts = {p for e, p in events if e == "start"}
    stops = {p for e, p in events if e == "stop"}
    assert len(starts) == 2, events
    if command[0] == "hypercorn":
        # hypercorn's master (hypercorn/run.py) terminates the other workers as soon as the
        # first one has exited, so a worker still draining may be killed before its lifespan's
        # shutdown half: at least the first one ran it (seen 1 run in 12 on a loaded machine).
        assert stops and stops <= starts, events
    else:
        assert stops == starts, events
