"""ASGI entry points for any server, configured by environment variables.

    FASTAPI_ROUTE_PROJECT=/srv/api gunicorn -k uvicorn.workers.UvicornWorker fastapi_route.asgi:app
    FASTAPI_ROUTE_APP=my_api hypercorn fastapi_route.asgi:app

FASTAPI_ROUTE_PROJECT names a project folder, FASTAPI_ROUTE_APP an installed app's package; with
neither, the current folder or the one installed app. The app is served from its build cache
(FASTAPI_ROUTE_STRICT=1 refuses a stale one; FASTAPI_ROUTE_LAZY=1 imports routes on first
use). `fastapi-route run --workers N` and `dev` start
uvicorn on the factories below, so every worker process builds the same app.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from .errors import FastAPIRouteError
from .project import Project, find_project, from_package

ENV_PROJECT = "FASTAPI_ROUTE_PROJECT"
ENV_APP = "FASTAPI_ROUTE_APP"
ENV_STRICT = "FASTAPI_ROUTE_STRICT"
ENV_LAZY = "FASTAPI_ROUTE_LAZY"

log = logging.getLogger("fastapi_route")


def project_from_env() -> Project:
    path = os.environ.get(ENV_PROJECT)
    package = os.environ.get(ENV_APP)
    if package and not path:
        return from_package(package)  # no need to scan every installed distribution
    return find_project(Path(path) if path else None)


def create_from_env() -> FastAPI:
    """The production app, from the cache."""
    from .runtime.app import create_app

    return create_app(
        project_from_env(), source="cache", strict=_flag(ENV_STRICT),
        lazy=True if _flag(ENV_LAZY) else None,
    )


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def create_dev_app() -> FastAPI:
    """The development app, from a fresh scan; a broken project gives the error page."""
    from .runtime.app import create_app
    from .runtime.errorpage import error_app

    try:
        return create_app(project_from_env(), source="scan")
    except FastAPIRouteError as exc:
        log.error("%s", exc)
        return error_app(exc)
    except Exception as exc:  # anything else the project's code raised: still show it
        log.exception("the project failed to load")
        wrapped = FastAPIRouteError(f"the project failed to load: {type(exc).__name__}: {exc}")
        wrapped.__cause__ = exc
        return error_app(wrapped)


def __getattr__(name: str) -> Any:
    if name == "app":
        app = create_from_env()
        globals()["app"] = app
        return app
    raise AttributeError(name)
