"""Stopping a server whose app cannot serve a route it must (SPEC 10).

Under `run`'s default schedule a route is registered with FastAPI after the port is bound; a
handler FastAPI rejects (a parameter typed with a plain class, say) is found then, by a
request or by the warm-up. `run` must still end with a non-zero exit naming the file, as it
would have before binding. `run` exports its pid and a report file in
FASTAPI_ROUTE_SUPERVISOR; the process that finds the failure writes it to the file and sends
`run` a SIGTERM (uvicorn then shuts every worker down gracefully); a worker also leaves at once.
`run` exits 1 when the file holds a report. (A signal of our own would not do: uvicorn's
supervisor takes over SIGUSR1, SIGUSR2 and others.) Elsewhere (a test client, another server)
the route answers 500 and the error is logged.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import tempfile
from pathlib import Path

log = logging.getLogger("fastapi_route")

WORKER_EXIT = 3  # gunicorn's "worker failed to boot": a supervisor does not respawn it

_report: Path | None = None  # in the `run` process: where failures are reported


def supervise() -> str:
    """In the `run` process: a report file for its workers; the value to export."""
    global _report
    fd, name = tempfile.mkstemp(prefix="fastapi-route-failure-", suffix=".txt")
    os.close(fd)
    _report = Path(name)
    atexit.register(_report.unlink, missing_ok=True)
    return f"{os.getpid()}:{name}"


def stop_serving(error: BaseException) -> None:
    from ..asgi import supervisor_from_env

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


def stopped_by_failure() -> str | None:
    """In the `run` process: what stopped the server, if a failure did."""
    if _report is None:
        return None
    try:
        text = _report.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text.splitlines()[0] if text else None
