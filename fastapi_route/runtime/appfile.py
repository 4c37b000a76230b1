"""`app.py`: what one would pass to `FastAPI(...)`, and a hook for everything else (SPEC 9)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from ..conventions import APP_FILE
from ..errors import FastAPIRouteError
from ..pipeline.declarations import APP_SETTINGS
from ..project import Project
from .failure import located
from .handlers import is_handlers
from .modules import ProjectModules


@dataclass(frozen=True)
class AppFile:
    """app.py's settings; all empty without an app.py."""

    lifespan: Any = None  # FastAPI's own: @asynccontextmanager async def lifespan(app)
    exception_handlers: Mapping[Any, Callable[..., Any]] = field(default_factory=dict)
    middleware: Sequence[Middleware] = ()  # the first is outermost
    configure: Callable[[FastAPI], Any] | None = None  # called once every route is registered
    root: Path | None = None  # the project's: where configure's error is located

    @classmethod
    def load(cls, project: Project, modules: ProjectModules) -> AppFile:
        """Import app.py (once, as the module a route's `from ...app import x` reaches)."""
        if not (project.root / APP_FILE).is_file():
            return cls()
        module = modules.load(APP_FILE)

        def wrong(name: str) -> FastAPIRouteError:  # what the build could not see
            return APP_SETTINGS[name].wrong_value(APP_FILE, getattr(module, name))

        lifespan = getattr(module, "lifespan", None)
        if lifespan is not None and not callable(lifespan):
            raise wrong("lifespan")
        handlers = getattr(module, "exception_handlers", {})
        if not is_handlers(handlers):
            raise wrong("exception_handlers")
        middleware = getattr(module, "middleware", ())
        if not isinstance(middleware, Sequence) or not all(
            isinstance(m, Middleware) for m in middleware
        ):
            raise wrong("middleware")
        configure = getattr(module, "configure", None)
        if configure is not None and (
            not callable(configure) or inspect.iscoroutinefunction(configure)
        ):
            raise wrong("configure")
        return cls(lifespan, dict(handlers), list(middleware), configure, project.root)

    def finish(self, app: FastAPI) -> None:
        """Run `configure(app)`; what it adds is served."""
        if self.configure is None:
            return
        try:
            self.configure(app)
        except Exception as exc:
            raise FastAPIRouteError(
                located(f"{APP_FILE}: configure(app) raised", exc, self.root),
                "fix configure in app.py",
            ) from exc
