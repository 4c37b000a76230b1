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

import pytest
from loadgen import PATHS, have_wrk, run_load, run_python, write_project
from servers import Server, http_request, run_cli, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.load,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX"),
]

LONG = os.environ.get("FASTAPI_ROUTE_LONG_LOAD", "") not in ("", "0")
SECONDS = float(os.environ.get("FASTAPI_ROUTE_LOAD_SECONDS", "30" if LONG else "5"))
CONNECTIONS = 64 if LONG else 16


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("load") / "app")
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


def _in_flight(server: Server, count: int, seconds: float) -> tuple[list[object], list[float],
                                                                      list[threading.Thread]]:
    """`count` requests to /slow on their own connections, started now."""
    results: list[object] = [None] * count
    finished: list[float] = [0.0] * count

    def one(i: int) -> None:
        try:
            results[i] = http_request(server.port, "GET", f"/slow?seconds={seconds}",
                                      timeout=30)[0]
        except OSError as exc:
            results[i] = exc
        finished[i] = time.monotonic()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    return results, finished, threads


@pytest.mark.parametrize("workers", [2, 1])
def test_sigterm_lets_in_flight_requests_finish_and_exits_0(
    project: Path, workers: int
) -> None:
    with start_server(run_args(project, workers), cwd=project.parent) as server:
        results, finished, threads = _in_flight(server, 16, 1.0)
        time.sleep(0.4)  # every request is inside its handler's sleep now
        terminated = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(30)
        assert results == [200] * 16, results
        assert all(f > terminated for f in finished), "they had finished before the SIGTERM"
        code = server.wait_exit(30)
        log = server.output()
    assert "Traceback" not in log, log
    assert code == 0, (code, log)


def test_sigterm_under_load_loses_no_request(project: Path) -> None:
    """Slow requests in flight and a stream of fast ones: each slow one finishes with 200,
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

        hammers = [threading.Thread(target=hammer) for _ in range(4)]
        for t in hammers:
            t.start()
        results, _, threads = _in_flight(server, 8, 1.0)
        time.sleep(0.4)
        server.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(30)
        code = server.wait_exit(30)
        stop.set()
        for t in hammers:
            t.join(30)
    assert results == [200] * 8, results
    assert code == 0
    assert fast and set(fast) <= {200, "refused"}, sorted({str(x) for x in fast})
    assert fast.count(200) > 10
