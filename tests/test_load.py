"""Load and shutdown: `python -m fastapi_route run --workers 2` under sustained load answers
every request with a 2xx, and SIGTERM lets in-flight requests finish before it exits.

Short by default (about 5 s of load); FASTAPI_ROUTE_LONG_LOAD=1 makes it 64 connections for
30 s (FASTAPI_ROUTE_LOAD_SECONDS overrides the length). The load comes from `wrk` when it is
installed, else from an asyncio + httpx generator (tests/loadgen.py); bench/load.py runs the
long version by hand.
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from loadgen import PATHS, have_wrk, run_load, run_python, write_project
from servers import Server, http_request, poll, run_cli, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.load,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX"),
]

LONG = os.environ.get("FASTAPI_ROUTE_LONG_LOAD", "") not in ("", "0")
SECONDS = float(os.environ.get("FASTAPI_ROUTE_LOAD_SECONDS", "30" if LONG else "5"))
CONNECTIONS = 64 if LONG else 16

# A request that says it has arrived (a file named `n` in `arrived`), then stays in its handler
# until the file `release` exists: in flight for exactly as long as the test wants.
HELD_ROUTE = """\
import asyncio
import os
from pathlib import Path


async def GET(request, arrived: str, release: str, n: int):
    Path(arrived, str(n)).write_text(str(os.getpid()))
    for _ in range(3000):  # 30 s at most: a test that never releases it gets a 504
        if Path(release).exists():
            return {"held": n}
        await asyncio.sleep(0.01)
    return {"held": n}, 504
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("load") / "app")
    (root / "routes" / "held").mkdir()
    (root / "routes" / "held" / "route.py").write_text(HELD_ROUTE, encoding="utf-8")
    with (root / "config.py").open("a", encoding="utf-8") as config:
        # uvicorn's lifecycle lines (WAITING, below) without a line per request.
        config.write('logging = {"production_level": "INFO"}\nserver = {"access_log": False}\n')
    result = run_cli(["build", "--project", str(root)], cwd=root.parent)
    assert result.returncode == 0, result.stdout
    return root


def run_args(root: Path, workers: int) -> list[str]:
    return ["fastapi_route", "run", "--project", str(root), "--host", "127.0.0.1",
            "--port", "{port}", "--workers", str(workers)]


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Server]:
    with start_server(run_args(project, 2), cwd=project.parent) as running:
        for path in PATHS:  # every kind of route answers before the load starts
            status, headers, _ = running.request("GET", path)
            assert status == 200 and headers.get("x-load") == "1", (path, status)
        yield running
        assert "Traceback" not in running.output(), running.output()


def test_sustained_load_gets_only_2xx(server: Server) -> None:
    result = run_load(server.port, PATHS, CONNECTIONS, SECONDS)
    print(result.summary())
    assert result.clean, result.summary()
    assert result.requests >= 100 * SECONDS, result.summary()  # about 1/20 of this machine's
    assert server.running()


@pytest.mark.skipif(not have_wrk(), reason="the test above already used this generator")
def test_the_fallback_generator_also_sees_only_2xx(server: Server) -> None:
    """Where wrk is installed, still run the generator CI machines without it will use."""
    result = run_python(server.port, PATHS, 8, 2.0)
    print(result.summary())
    assert result.clean, result.summary()
    assert result.requests >= 100, result.summary()


def test_two_workers_answer_without_nagle_delay(server: Server) -> None:
    """Sequential requests on one keep-alive connection: milliseconds each, not 40 ms."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        took = []
        for _ in range(20):
            started = time.perf_counter()
            conn.request("GET", "/users/42")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            took.append(time.perf_counter() - started)
    finally:
        conn.close()
    took.sort()
    assert took[len(took) // 2] < 0.02, f"median {took[len(took) // 2] * 1000:.1f} ms"


class Held:
    """`count` requests to /held on their own connections, each in flight until release()."""

    def __init__(self, server: Server, count: int, folder: Path) -> None:
        self.server = server
        self.count = count
        self.arrived = folder / "arrived"
        self.arrived.mkdir(parents=True)
        self.release_file = folder / "release"
        self.results: list[object] = [None] * count
        self.finished: list[float] = [0.0] * count
        query = urlencode({"arrived": str(self.arrived), "release": str(self.release_file)})
        self.threads = [threading.Thread(target=self._one, args=(i, f"/held?{query}&n={i}"),
                                         daemon=True) for i in range(count)]
        for t in self.threads:
            t.start()

    def _one(self, i: int, path: str) -> None:
        try:
            self.results[i] = http_request(self.server.port, "GET", path, timeout=60)[0]
        except OSError as exc:
            self.results[i] = exc
        self.finished[i] = time.monotonic()

    def wait_all_inside(self) -> None:
        """Until every request is inside its handler (bounded; fails with the output)."""
        poll(lambda: sorted(int(p.name) for p in self.arrived.iterdir()),
             lambda inside: inside == list(range(self.count)), timeout=30, interval=0.02,
             server=self.server)

    def workers(self) -> set[str]:
        """The pids of the processes whose handlers hold the requests."""
        return {p.read_text() for p in self.arrived.iterdir()}

    def release(self) -> None:
        self.release_file.touch()

    def join(self) -> None:
        for t in self.threads:
            t.join(60)
            assert not t.is_alive(), "a held request never ended"


WAITING = "Waiting for connections to close"  # uvicorn, once its connections are told to end


def sigterm_while_held(server: Server, held: Held) -> float:
    """SIGTERM `run` while every held request is in its handler, then wait until each worker
    holding one says it is waiting for its connections to close: from then on the requests
    are in flight during the shutdown, and release() lets them end. Returns when SIGTERM was
    sent. Fails as soon as a held request ends or the server exits before that."""
    workers = held.workers()
    before = server.output().count(WAITING)
    terminated = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    deadline = terminated + 30
    while server.output().count(WAITING) - before < len(workers):
        ended = [r for r in held.results if r is not None]
        if ended:
            raise server.fail(f"held requests ended before their release: {ended}")
        if not server.running():
            raise server.fail(f"exited with held requests in flight: {held.results}")
        if time.monotonic() > deadline:
            raise server.fail(f"{len(workers)} workers hold requests, not all say {WAITING!r}")
        time.sleep(0.02)
    return terminated


@pytest.mark.parametrize("workers", [2, 1])
def test_sigterm_lets_in_flight_requests_finish_and_exits_0(
    project: Path, workers: int, tmp_path: Path
) -> None:
    with start_server(run_args(project, workers), cwd=project.parent) as server:
        held = Held(server, 16, tmp_path)
        try:
            held.wait_all_inside()
            terminated = sigterm_while_held(server, held)
        finally:
            held.release()  # whatever failed, nothing is left waiting
        held.join()
        assert held.results == [200] * 16, held.results
        assert all(f > terminated for f in held.finished), "finished before the SIGTERM"
        code = server.wait_exit(30)
        log = server.output()
    assert "Traceback" not in log, log
    assert "timeout graceful shutdown exceeded" not in log, log
    assert code == 0, (code, log)


def test_sigterm_under_load_loses_no_request(project: Path, tmp_path: Path) -> None:
    """Held requests in flight and a stream of fast ones: each held one finishes with 200,
    the fast ones either get a 2xx or a refused connection, never a broken answer."""
    with start_server(run_args(project, 2), cwd=project.parent) as server:
        stop = threading.Event()
        fast: list[object] = []

        def hammer() -> None:
            while not stop.is_set():
                try:
                    fast.append(http_request(server.port, "GET", "/users/42", timeout=10)[0])
                except (ConnectionRefusedError, ConnectionResetError):
                    fast.append("refused")
                    time.sleep(0.01)
                except OSError as exc:
                    fast.append(repr(exc))

        hammers = [threading.Thread(target=hammer, daemon=True) for _ in range(4)]
        for t in hammers:
            t.start()
        held = Held(server, 8, tmp_path)
        try:
            held.wait_all_inside()
            poll(lambda: fast.count(200), lambda ok: ok > 10, timeout=30, interval=0.02,
                 server=server)  # the stream is flowing before the SIGTERM
            sigterm_while_held(server, held)
            held.release()
            held.join()
            code = server.wait_exit(30)
        finally:
            held.release()  # whatever failed, nothing is left waiting
            stop.set()
            for t in hammers:
                t.join(30)
    assert held.results == [200] * 8, held.results
    assert code == 0
    assert fast and set(fast) <= {200, "refused"}, sorted({str(x) for x in fast})
    assert fast.count(200) > 10
