"""Real server processes for the end-to-end tests: start, wait until they answer, stop.

    with start_server(["fastapi_route", "run", "--project", str(root)], cwd=tmp_path) as server:
        status, headers, body = server.request("GET", "/users/me")

Every process runs `sys.executable -m ...`, so the package under test is the one imported, in
its own session (process group): stopping it sends SIGTERM to the process we started, waits,
then SIGKILLs what is left of its group, so no uvicorn worker or reloader child outlives a
test. Output (stdout and stderr together) goes to a temporary file, never a pipe that could
fill up.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

START_TIMEOUT = 30.0  # seconds for a server to answer its first request
STOP_TIMEOUT = 10.0  # seconds for a graceful shutdown before SIGKILL
# FASTAPI_ENV too: `development` left in a shell would make every server scan (asgi.dev_from_env).
OUR_ENV = ("FASTAPI_ROUTE_PROJECT", "FASTAPI_ROUTE_APP", "FASTAPI_ROUTE_STRICT",
           "FASTAPI_ROUTE_SCHEDULE", "FASTAPI_ROUTE_SUPERVISOR", "FASTAPI_ROUTE_LAZY",
           "FASTAPI_ROUTE_DEV", "FASTAPI_ENV")


def free_port() -> int:
    """A loopback port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(
    extra: Mapping[str, str] | None = None, drop: Sequence[str] = ()
) -> dict[str, str]:
    """This process's environment without our own variables (and `drop`), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in OUR_ENV and k not in drop}
    env.update({"PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra or {})
    return env


def run_cli(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """`python -m fastapi_route ARGS` to completion; stdout and stderr merged in `.stdout`."""
    return subprocess.run(
        [sys.executable, "-m", "fastapi_route", *args], cwd=cwd, env=child_env(env),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
    )


class ServerError(AssertionError):
    """The server died or did not answer in time; the message carries its output."""


Response = tuple[int, dict[str, str], bytes]


def http_request(
    port: int, method: str, path: str, *, body: bytes | None = None,
    headers: Mapping[str, str] | None = None, timeout: float = 10.0,
) -> Response:
    """One request on a fresh connection, the path sent exactly as given (no normalising of
    `..` or `%2e`, unlike httpx). Header names are lower-cased in the result."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def raw_request(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes and read everything until the server closes the connection; for checks
    that http.client would hide (a HEAD or 204 response carrying a body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


class Server:
    """A started process (`python -m ARGS`, or ARGS itself as a command when `module` is
    false; each `{port}` in ARGS replaced by its port); `request()` talks HTTP to it,
    `output()` is what it printed so far."""

    def __init__(
        self, args: Sequence[str | Path], *, cwd: Path, env: Mapping[str, str] | None = None,
        port: int | None = None, module: bool = True, drop_env: Sequence[str] = (),
    ) -> None:
        self.port = port if port is not None else free_port()
        command = [str(a).replace("{port}", str(self.port)) for a in args]
        self.args = [sys.executable, "-m", *command] if module else command
        fd, log = tempfile.mkstemp(prefix="fastapi-route-server-", suffix=".log")
        self.log = Path(log)
        with os.fdopen(fd, "wb") as out:
            self.proc = subprocess.Popen(
                self.args, cwd=cwd, env=child_env(env, drop_env), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        """Whether the process is still running. An ended one is left a zombie (not reaped)
        so that its pid, which is also its process group's id, cannot be reused before
        stop() has killed the group."""
        if self.proc.returncode is not None:
            return False
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return info is None

    def output(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def request(
        self, method: str, path: str, *, body: bytes | None = None,
        headers: Mapping[str, str] | None = None, timeout: float = 10.0,
    ) -> Response:
        return http_request(self.port, method, path, body=body, headers=headers, timeout=timeout)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def fail(self, why: str) -> ServerError:
        return ServerError(f"{why}\n$ {' '.join(self.args)}\n--- output ---\n{self.output()}")

    def wait_ready(self, path: str = "/", timeout: float = START_TIMEOUT) -> None:
        """Until any HTTP answer on `path`; raises (with the output) if the process ends first
        or nothing answers within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                raise self.fail(f"the server exited with code {self.stop()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise self.fail(f"no answer on port {self.port} within {timeout:.0f} s")
            try:
                self.request("GET", path, timeout=min(5.0, max(left, 0.1)))
                return
            except OSError:  # refused, reset, timed out: not up yet
                time.sleep(0.1)

    def wait_exit(self, timeout: float = 30.0) -> int:
        """The exit code of a process expected to end by itself within `timeout`."""
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() > deadline:
                raise self.fail(f"still running after {timeout:.0f} s")
            time.sleep(0.05)
        return self.stop()

    def _wait_until_ended(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> int:
        """SIGTERM, a bounded wait, then SIGKILL for the process group (uvicorn workers or a
        reloader child that outlived their parent); returns the exit code."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            self._wait_until_ended(STOP_TIMEOUT)
        # The group leader is at worst a zombie here, so the group id is still ours.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=STOP_TIMEOUT)

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            self.log.unlink()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def start_server(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
    port: int | None = None, ready_path: str | None = "/", timeout: float = START_TIMEOUT,
) -> Iterator[Server]:
    """Start `python -m ARGS` (each `{port}` in ARGS replaced by a free port), wait until
    it answers on `ready_path` (None: do not wait), and always stop it afterwards."""
    server = Server(args, cwd=cwd, env=env, port=port)
    try:
        if ready_path is not None:
            server.wait_ready(ready_path, timeout)
        yield server
    finally:
        server.close()


def poll(
    func: Callable[[], T], until: Callable[[T], bool], *, timeout: float = 15.0,
    interval: float = 0.2, server: Server | None = None,
) -> T:
    """Call `func` until `until(result)`; connection errors count as "not yet". Raises with
    the last result (and the server's output) when `timeout` passes."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = func()
            if until(last):  # type: ignore[arg-type]
                return last  # type: ignore[return-value]
        except OSError as exc:
            last = exc
        if server is not None and not server.running():
            raise server.fail(f"the server exited ({server.stop()}); last: {last!r}")
        if time.monotonic() > deadline:
            why = f"condition not met within {timeout:.0f} s; last: {last!r}"
            raise server.fail(why) if server is not None else ServerError(why)
        time.sleep(interval)


def run_args(root: Path, *extra: str) -> list[str]:
    """`python -m` arguments of `fastapi-route run` on `root`, on loopback, port `{port}`."""
    return ["fastapi_route", "run", "--project", str(root), "--host", "127.0.0.1",
            "--port", "{port}", *extra]


def run_refused_before_binding(root: Path, cwd: Path, *extra: str) -> str:
    """`run` must end by itself, exit 1 without a traceback, and never try to bind its port:
    the test holds that port, so an attempt would print "address already in use". Returns
    what `run` printed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with Server(run_args(root, *extra), cwd=cwd, port=port) as server:
            code = server.wait_exit(timeout=30)
            out = server.output()
    assert code == 1, out
    assert "Traceback" not in out, out
    assert "Serving" not in out, out  # never reached uvicorn
    assert "already in use" not in out, out
    return out
