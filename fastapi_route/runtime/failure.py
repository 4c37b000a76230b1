"""Stopping a server whose app cannot serve a route it must (SPEC 10).

Under `run`'s default schedule a route is registered with FastAPI after the port is bound; a
handler FastAPI rejects (a parameter typed with a plain class, say) is found then, by a
request or by the warm-up. `run` must still end with a non-zero exit naming the file, as it
would have before binding.

The contract, between whoever serves and the processes that serve: the server holds a
`Supervisor` (a report file) and exports its address ("pid:report file") as
FASTAPI_ROUTE_SUPERVISOR; the process that finds the failure writes it to the file and sends
the server a SIGTERM (uvicorn then shuts every worker down gracefully); a worker also leaves
at once. The server reads the report when uvicorn has stopped. (A signal of our own would not
do: uvicorn's supervisor takes over SIGUSR1, SIGUSR2 and others.) Without the variable (a test
client, another server) the route answers 500 and the error is logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
from pathlib import Path
from types import TracebackType

log = logging.getLogger("fastapi_route")

ENV_SUPERVISOR = "FASTAPI_ROUTE_SUPERVISOR"
WORKER_EXIT = 3  # gunicorn's "worker failed to boot": a supervisor does not respawn it


class Supervisor:
    """Owned by whoever serves: the file its processes report a failure to, for the length of
    a `with` block (removed on leaving it)."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="fastapi-route-failure-", suffix=".txt")
        os.close(fd)
        self.report = Path(name)
        self.address = f"{os.getpid()}:{name}"  # the value of ENV_SUPERVISOR

    def failure(self) -> str | None:
        """What stopped the server, if a failure did."""
        try:
            text = self.report.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text.splitlines()[0] if text else None

    def close(self) -> None:
        self.report.unlink(missing_ok=True)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def supervisor_from_env() -> tuple[int, str] | None:
    """The pid of the process serving this one and its report file, if one exported them."""
    pid, _, report = os.environ.get(ENV_SUPERVISOR, "").partition(":")
    return (int(pid), report) if pid.isdigit() and report else None


def stop_serving(error: BaseException) -> None:
    """Report `error` to the supervisor and stop the server; nothing without a supervisor."""
    supervisor = supervisor_from_env()
    if supervisor is None:
        return  # not under `run`: the route answers 500, and the caller logged why
    pid, report = supervisor
    log.critical("fastapi-route: stopping the server: %s", error)
    with contextlib.suppress(OSError), open(report, "a", encoding="utf-8") as f:
        f.write(f"{error}\n")
    if pid == os.getpid():  # `run` with one process: uvicorn stops gracefully
        os.kill(pid, signal.SIGTERM)
        return
    try:
        os.kill(pid, signal.SIGTERM)
    finally:
        os._exit(WORKER_EXIT)
