"""Serving a project with uvicorn: what `fastapi-route run` decides and does, as a library.

`ProductionServer(...)` decides everything before a port is bound: the schedule and the number
of workers, uvicorn's settings, and the app, built here so that a broken cache or an import
error fails now (one process serves this app; with several workers each builds its own, and
when they import lazily only the cache is verified here). `serve()` then exports what the
workers read, supervises them (a lifespan that raises or a worker that cannot start, and a
route FastAPI rejects after binding, stop the server: runtime/failure.py), runs uvicorn and
says how it ended. The environment variables and signal
handlers it sets are put back when it returns. The click commands only parse, call and print.

This module imports nothing heavy until a server is made: the CLI imports it for RUN_HOST.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from .config import Config
from .project import Project
from .runtime.failure import Supervisor
from .runtime.signals import handling

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .runtime.ondemand import Schedule

RUN_HOST = "0.0.0.0"  # what `run` binds when neither --host nor server.host says
DEV_HOST = "127.0.0.1"  # and `dev`
# What each worker serves: the app `uvicorn fastapi_route.asgi:app` serves, which builds the
# project's app from the variables `exported` sets, and reports a failed start.
WORKER_APP = "fastapi_route.asgi:app"


def uvicorn_settings(config: Config, host: str, port: int | None, log_level: str
                     ) -> dict[str, Any]:
    """uvicorn's keyword arguments: ours, then config.py's `server` options (checked when
    config.py was loaded: none of them is one of ours)."""
    from .runtime.protocol import NoDelayHTTPProtocol

    server = config.server
    return {"host": host, "port": port or server.port, "log_level": log_level.lower(),
            "http": NoDelayHTTPProtocol, **server.options}


def dev_settings(config: Config, host: str | None, port: int | None) -> dict[str, Any]:
    """uvicorn's settings for `dev`: the loopback address unless told, config.py's log level."""
    return uvicorn_settings(config, host or config.server.host or DEV_HOST, port,
                            config.logging.level)


@dataclass(frozen=True)
class Ended:
    """How a server ended: stopped as servers are (exit 0), or by a failure (exit 1)."""

    # What stopped it: "the server did not start: ..." (a lifespan that raised, a worker that
    # could not build the app, uvicorn's own refusal) or "the server stopped: ..." (a route
    # FastAPI rejected after binding).
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else 1


class _Stopped(Exception):
    """The SIGTERM that stops the server (uvicorn re-raises it once it has drained)."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


class ProductionServer:
    """`run`: the project's app from its build cache, served by uvicorn."""

    def __init__(self, project: Project, config: Config, *, host: str | None = None,
                 port: int | None = None, workers: int | None = None, strict: bool = False,
                 schedule: Schedule | None = None) -> None:
        from .runtime import offline_docs
        from .runtime.app import create_app, load_routes, schedule_of

        self.project = project
        self.strict = strict
        self.schedule = schedule
        self.workers = workers or config.server.workers
        self.settings = uvicorn_settings(config, host or config.server.host or RUN_HOST, port,
                                         config.logging.production_level)
        # Before a port is bound: the cache is verified and (unless lazy, or warm with a
        # readiness path: SPEC 13.1) every route file is imported, so a broken build or an
        # import error fails here; else a file that fails to import stops the server.
        self.app: FastAPI | None = None
        scheduled = schedule_of(config, schedule, None)
        after_bind = scheduled == "lazy" or (scheduled == "warm" and
                                             config.health.ready is not None)
        if self.workers > 1 and after_bind:
            load_routes(project, config, "cache", strict)  # each worker imports its own
            offline_docs.assets_folder(project.root, config)  # and makes its app: fail here
        else:
            self.app = create_app(project, source="cache", config=config, strict=strict,
                                  schedule=schedule, dispatch=self.workers == 1, server=True)

    @property
    def url(self) -> str:
        return f"http://{self.settings['host']}:{self.settings['port']}"

    def serve(self) -> Ended:
        """Serve until stopped (a SIGTERM, or a failure a worker reports)."""
        import uvicorn

        from .asgi import exported
        from .runtime.failure import Starting

        with Supervisor() as supervisor, exported(
            self.project, strict=self.strict, schedule=self.schedule,
            supervisor=supervisor.address,
        ), handling(signal.SIGTERM, _stop):
            try:
                if self.app is not None and self.workers == 1:
                    uvicorn.run(Starting(self.app, self.project.root), factory=False, workers=1,
                                **self.settings)
                else:
                    uvicorn.run(WORKER_APP, factory=False, workers=self.workers,
                                **self.settings)
            except _Stopped:
                pass  # how servers are stopped: the report says whether a failure did it
            except SystemExit as exc:  # uvicorn's "did not start" (3), or a port it cannot bind
                return Ended(supervisor.failure() or
                             f"the server did not start (uvicorn exited {exc.code}; its "
                             "message is above)")
            return Ended(supervisor.failure())
