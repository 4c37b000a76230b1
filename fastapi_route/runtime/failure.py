"""Stopping a server whose app cannot serve a route it must (SPEC 10).

Under `run`'s default schedule a route is registered with FastAPI after the port is bound; a
handler FastAPI rejects (a parameter typed with a plain class, say) is found then, by a
request or by the warm-up. `run` must still end with a non-zero exit naming the file, as it
would have before binding. `run` names its own pid in FASTAPI_ROUTE_SUPERVISOR: a worker
asks that process to stop (SIGUSR1) and leaves; the `run` process itself shuts uvicorn down
gracefully and exits 1. Elsewhere (a test client, another server) the route answers 500 and the
error is logged.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger("fastapi_route")

STOP_SIGNAL = signal.SIGUSR1  # a worker -> the `run` process: stop, and exit 1
WORKER_EXIT = 3  # gunicorn's "worker failed to boot": a supervisor does not respawn it

_failure: BaseException | None = None


def stop_serving(error: BaseException) -> None:
    global _failure
    from ..asgi import supervisor_from_env

    supervisor = supervisor_from_env()
    if supervisor is None:
        return  # not under `run`: the route answers 500, and the caller logged why
    _failure = error
    log.critical("fastapi-route: stopping the server: %s", error)
    if supervisor == os.getpid():  # `run` with one process: uvicorn stops gracefully
        os.kill(os.getpid(), signal.SIGTERM)
        return
    try:
        os.kill(supervisor, STOP_SIGNAL)
    finally:
        os._exit(WORKER_EXIT)


class WorkerFailed(Exception):
    """A worker of this `run` found a route it cannot serve (its log names the file)."""


def supervise() -> None:
    """In the `run` process: a worker's STOP_SIGNAL stops the server (uvicorn shuts the
    workers down on SIGTERM) and makes `run` exit 1."""

    def worker_failed(signum: int, frame: object) -> None:
        global _failure
        _failure = _failure or WorkerFailed(
            "a worker found a route FastAPI rejects; its log above names the file"
        )
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(STOP_SIGNAL, worker_failed)


def stopped_by_failure() -> BaseException | None:
    """The error that stopped this process's server, if any."""
    return _failure
