"""ASGI entry points for any server, configured by environment variables.

    FASTAPI_ROUTE_PROJECT=/srv/api uvicorn fastapi_route.asgi:app
    FASTAPI_ROUTE_APP=my_api hypercorn fastapi_route.asgi:app
    fastapi dev -e fastapi_route.asgi:app      # or [tool.fastapi] entrypoint in pyproject.toml

`app` is a real module-level object, so servers that evaluate the name in this module's
namespace (hypercorn) find it as well as those that use getattr (uvicorn, gunicorn, granian).
It builds the FastAPI app on its first call of any kind (the server's lifespan startup, or the
first request under a server without lifespan), once per process, then hands every call to it,
lifespan events included. A build failure under lifespan is reported as
`lifespan.startup.failed`, so the server exits with the message; without lifespan every
request answers 500 and the message is logged.

The variables (written by export(), read by project_from_env() and create_from_env()):

    FASTAPI_ROUTE_PROJECT   a project folder (holding routes/ and config.py)
    FASTAPI_ROUTE_APP       an installed app's package name, used when FASTAPI_ROUTE_PROJECT is
                            unset; with neither, the current folder, else the one installed app
    FASTAPI_ROUTE_STRICT    1: refuse a cache whose route files changed since the build;
                            0 or unset: serve it and log a warning
    FASTAPI_ROUTE_SCHEDULE  when routes are registered with FastAPI: warm (import everything
                            at start, register on first use or by a warm-up), eager (all
                            at start), lazy (import on first use); unset: config.py's `lazy`
                            says lazy, else warm
    FASTAPI_ROUTE_DEV       1: serve as `fastapi-route dev` does (scan the tree at start, an
                            error page for a broken tree; the server's reloader restarts the
                            process on a change); 0: from the cache; unset: FastAPI's own
                            FASTAPI_ENV=development (which `fastapi dev` sets) says 1
    FASTAPI_ROUTE_SUPERVISOR  set by `run` to "pid:report file": a process that finds a route
                            FastAPI rejects reports it there and stops `run` (the contract is
                            runtime/failure.py's, read and written there)

`fastapi-route run --workers N` exports them (`exported`, for the length of the serve call)
and starts uvicorn on `app`, so every worker serves the same project with the same flags, and
a worker that cannot start tells `run` (runtime/failure.py). The `fastapi-route` command
reads them too, where no flag says (a flag wins); `run` and `dev` ignore FASTAPI_ROUTE_DEV.

Why FASTAPI_ENV (docs/decisions.md, "Issue 18.3 and 18.5"): `fastapi dev` runs uvicorn with
reload, so the app is imported by a child process that uvicorn's reloader starts, and starts
again on every change; nothing in that process says "reload" but its environment, which it
inherits. FastAPI CLI sets FASTAPI_ENV to "development" there before uvicorn starts (keeping a
value already set) and leaves it alone under `fastapi run`; FastAPI itself reads it the same
way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import FastAPIRouteError, ProjectNotFound
from .project import Project, find_project, from_package, from_path
from .runtime import failure
from .runtime.failure import ENV_SUPERVISOR

ENV_PROJECT = "FASTAPI_ROUTE_PROJECT"
ENV_APP = "FASTAPI_ROUTE_APP"
ENV_STRICT = "FASTAPI_ROUTE_STRICT"
ENV_SCHEDULE = "FASTAPI_ROUTE_SCHEDULE"
ENV_DEV = "FASTAPI_ROUTE_DEV"
VARIABLES = (ENV_PROJECT, ENV_APP, ENV_STRICT, ENV_SCHEDULE, ENV_SUPERVISOR, ENV_DEV)
# FastAPI's: `fastapi dev` sets it to DEVELOPMENT unless it is set; `fastapi run` leaves it.
FASTAPI_ENV = "FASTAPI_ENV"
DEVELOPMENT = "development"
SCHEDULES = ("eager", "warm", "lazy")  # runtime.ondemand.SCHEDULES, without importing FastAPI

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

log = logging.getLogger("fastapi_route")


# --- the environment contract: export() writes what the readers below read --------------------


def export(project: Project, *, strict: bool = False, schedule: str | None = None,
           supervisor: str | None = None) -> None:
    """Name `project` and the flags in os.environ, for the processes uvicorn starts (workers, the
    reloader's children): each one rebuilds the app from these alone. Every variable is set or
    removed, so a value left in the user's shell cannot leak into the workers."""
    if project.installed and project.package:
        # By name: the worker finds the package wherever it is installed.
        _put(ENV_APP, project.package)
        _put(ENV_PROJECT, None)
    else:
        _put(ENV_PROJECT, str(project.root))
        _put(ENV_APP, None)
    _put(ENV_STRICT, "1" if strict else None)
    _put(ENV_SCHEDULE, schedule)
    _put(ENV_SUPERVISOR, supervisor)
    # `run`'s workers serve the cache, whatever FASTAPI_ENV a shell or a .env file left set.
    _put(ENV_DEV, "0" if os.environ.get(FASTAPI_ENV) == DEVELOPMENT else None)


@contextlib.contextmanager
def exported(project: Project, *, strict: bool = False, schedule: str | None = None,
             supervisor: str | None = None) -> Iterator[None]:
    """export() for the length of the block; then every variable is as it was before."""
    before = {name: os.environ.get(name) for name in VARIABLES}
    export(project, strict=strict, schedule=schedule, supervisor=supervisor)
    try:
        yield
    finally:
        for name, value in before.items():
            _put(name, value)


def _put(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


# One reader per variable; the `fastapi-route` command reads them too, where no flag says.


def project_from_env() -> Project:
    """The project the variables name; with neither, the current folder, else the one
    installed app. A hint names the variables: under a server there is no --project."""
    named = project_named_by_env()
    if named is not None:
        return named
    try:
        return find_project(None)
    except ProjectNotFound as exc:
        raise ProjectNotFound(
            exc.message,
            f"set {ENV_PROJECT} to a project folder, or {ENV_APP} to an installed app's package",
        ) from None


def project_named_by_env() -> Project | None:
    """The project FASTAPI_ROUTE_PROJECT, else FASTAPI_ROUTE_APP, names; None when neither
    is set. A wrong one is an error whose hint names the variable."""
    path = os.environ.get(ENV_PROJECT, "").strip()
    package = os.environ.get(ENV_APP, "").strip()
    try:
        if path:
            return from_path(Path(path), found_by=ENV_PROJECT)
        if package:  # by package name: no need to scan every installed distribution
            return from_package(package, found_by=f"{ENV_APP}={package}")
    except ProjectNotFound as exc:
        hint = (f"set {ENV_PROJECT} to a project folder (holding routes/ or config.py)" if path
                else f"install the app's wheel, or set {ENV_PROJECT} to its source tree")
        raise ProjectNotFound(exc.message, f"{hint}, or unset it") from None
    return None


def strict_from_env() -> bool:
    """False when unset."""
    return _flag(ENV_STRICT) is True


def schedule_from_env() -> str | None:
    """None when unset: config.py decides."""
    value = os.environ.get(ENV_SCHEDULE, "").strip().lower()
    if value and value not in SCHEDULES:
        raise FastAPIRouteError(
            f"{ENV_SCHEDULE}={os.environ[ENV_SCHEDULE]!r} is not a schedule",
            f"set {ENV_SCHEDULE} to one of {', '.join(SCHEDULES)}, or unset it",
        )
    return value or None


def dev_from_env() -> bool:
    """Whether to serve as `fastapi-route dev` does: FASTAPI_ROUTE_DEV says, else FastAPI's
    FASTAPI_ENV, compared as FastAPI compares it."""
    flag = _flag(ENV_DEV)
    if flag is not None:
        return flag
    return os.environ.get(FASTAPI_ENV) == DEVELOPMENT


def _flag(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FastAPIRouteError(
        f"{name}={os.environ[name]!r} is not a yes/no value", f"set {name} to 1 or 0"
    )


# --- factories (uvicorn --factory, from `run --workers N` and `dev`) ----------------------------


def create_from_env(default_schedule: str | None = None, unchanged: bool = False) -> ASGIApp:
    """The production app, from the cache; or, in development (`dev_from_env`), the app
    `fastapi-route dev` serves. `default_schedule` is the schedule when FASTAPI_ROUTE_SCHEDULE
    is unset (None: config.py decides), and `unchanged` skips the stale check unless
    FASTAPI_ROUTE_STRICT (create_app's); fastapi_route.aws gives `lazy` and True, for a
    process that may live for one request, in a deployment nothing writes to."""
    if dev_from_env():
        return create_dev(project_from_env())
    from .runtime.app import create_app

    return create_app(
        project_from_env(), source="cache", strict=strict_from_env(),
        # checked against SCHEDULES
        schedule=schedule_from_env() or default_schedule,  # type: ignore[arg-type]
        server=True, unchanged=unchanged,
    )


def create_dev(project: Project) -> ASGIApp:
    """`fastapi-route dev`'s app without its file watcher: the tree is scanned now (a new route
    file is served without a build), and a broken tree answers with its error page. The
    server's reloader (`fastapi dev`, `uvicorn --reload`) restarts the process on a change,
    and the new process scans again."""
    from .config import load_config
    from .runtime.devserver import DevApp

    dev = DevApp(project, load_config(project.root))
    dev.build()
    return dev


# --- the module-level app -----------------------------------------------------------------------


class DeferredApp:
    """An ASGI app that builds the real one with `factory` on its first call, once, and then
    forwards every call (lifespan, http, websocket) to it.

    Building on the call rather than at import lets a server import this module before the
    environment names a project, and keeps a failed build a message instead of an import
    traceback. The build is synchronous, so within one event loop no two calls can interleave
    during it; the lock covers servers that run several loops in threads of one process.
    """

    def __init__(self, factory: Callable[[], ASGIApp] = create_from_env) -> None:
        self.factory = factory
        self._app: ASGIApp | None = None
        self._failure: str | None = None  # the message of a failed build, kept: built once
        self._lock = threading.Lock()

    def build(self) -> ASGIApp | None:
        """The real app, built now if this is the first call; None once a build has failed
        (its message in `failure`)."""
        if self._app is None and self._failure is None:
            with self._lock:
                if self._app is None and self._failure is None:
                    self._build()
        return self._app

    def _build(self) -> None:
        try:
            self._app = self.factory()
        except FastAPIRouteError as exc:
            self._failure = str(exc)  # the user's mistake: the message says what to do
        except (Exception, SystemExit) as exc:
            # The project's own code failed (config.py, a route import): its traceback helps.
            log.exception("the project failed to load")
            self._failure = f"the project failed to load: {failure.describe(exc)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.build()
        if app is not None:
            if scope["type"] == "lifespan":  # a lifespan that raises: one located message
                await failure.start(app, scope, receive, send, _root_of(app))
            else:
                await app(scope, receive, send)
            return
        message = self._failure or "the app failed to load"
        if scope["type"] == "lifespan":
            # The server ends with this message (uvicorn and granian log it, hypercorn raises
            # it; under `run`, run prints it); raising instead would make them log "lifespan
            # unsupported" and carry on.
            event = await receive()
            if event["type"] == "lifespan.startup":
                await failure.fail_start(send, message)
            return
        log.error("%s", message)
        if scope["type"] == "http":
            # The message stays in the log: it names server paths a client has no use for.
            body = b"Internal Server Error"
            await send({
                "type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())],
            })
            await send({"type": "http.response.body", "body": body})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})  # 1011: internal error


def _root_of(app: ASGIApp) -> Path | None:
    """The project folder of an app create_app (or create_dev) made (where a failure is
    located)."""
    from .runtime.app import runtime_of

    # Only a process that imported the dev server can hold its app (no import for the rest).
    devserver = sys.modules.get(f"{__package__}.runtime.devserver")
    if devserver is not None and isinstance(app, devserver.DevApp):
        return app.project.root  # type: ignore[no-any-return]
    try:
        return runtime_of(app).project.root  # type: ignore[arg-type]
    except (LookupError, AttributeError):
        return None


app = DeferredApp()
