"""Settings: defaults < config.py < command-line flags, held in one frozen dataclass.

This module is the schema: the settings, their defaults, and the values each accepts (uvicorn
settings in `server` included), so that `build` (and the wheel's build hook) refuses what `run`
would refuse. Reading a project's config.py file is `fastapi_route.config`'s job.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# The CLI's own commands: a `commands` entry by one of these names could never run.
BUILTIN_COMMANDS = ("init", "dev", "build", "run", "status", "clean", "routes",
                    "explain")
# uvicorn settings that `run` and `dev` decide themselves (host, port and workers are server
# keys of their own); any `reload...` key too.
RESERVED_SERVER_OPTIONS = ("app", "factory")


@dataclass(frozen=True)
class ServerConfig:
    host: str | None = None  # None: the command's own default (dev 127.0.0.1, run 0.0.0.0)
    port: int = 8000
    workers: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)  # passed to uvicorn as is


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    production_level: str = "WARNING"


@dataclass(frozen=True)
class BuildConfig:
    cache_dir: str = ".cache"
    compression_level: int = 6
    exclude_patterns: tuple[str, ...] = ()
    include_patterns: tuple[str, ...] = ()
    require_request: bool = True


@dataclass(frozen=True)
class Config:
    app_name: str = "FastAPI Route App"
    debug: bool = False
    version: str = "1.0.0"
    description: str = ""
    route_dir: str = "routes"
    static_dir: str = "public"
    cors_enabled: bool = False
    cors_origins: tuple[str, ...] = ("*",)
    cors_allow_credentials: bool = False
    cors_allow_methods: tuple[str, ...] = ("*",)
    cors_allow_headers: tuple[str, ...] = ("*",)
    docs_enabled: bool = True
    openapi_url: str | None = "/openapi.json"  # None: no document, so no Swagger UI or ReDoc
    lazy: bool = False
    server: ServerConfig = field(default_factory=ServerConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    commands: Mapping[str, str] = field(default_factory=dict)

    def with_build(self, **changes: Any) -> Config:
        return dataclasses.replace(self, build=dataclasses.replace(self.build, **changes))



# --- value checkers: each returns the converted value or raises ValueError("must be ...") ---

Checker = Callable[[Any], Any]


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be True or False")
    return value


def _int_range(low: int, high: int) -> Checker:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return check


def _str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings")
    return tuple(value)


def _level(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
        raise ValueError("must be one of " + ", ".join(LOG_LEVELS))
    return value.upper()


def _url_path_or_none(value: Any) -> str | None:
    """FastAPI's `openapi_url`: a path, or None to turn the document off."""
    if value is not None and (not isinstance(value, str) or not value.startswith("/")):
        raise ValueError("must be a URL path starting with '/', or None")
    return value


def _relative_dir(value: Any) -> str:
    """A folder inside the project: relative, no `..`, not the project root itself."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a folder name relative to the project")
    posix = PurePosixPath(value.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or str(posix) == ".":
        raise ValueError("must be a folder inside the project (relative, without '..')")
    return str(posix)


def _commands(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("must be a dict of command name to shell command")
    return dict(value)


@dataclass(frozen=True)
class _Section:
    """A dict-valued setting with known keys (and, for `server`, pass-through extras)."""

    keys: Mapping[str, Checker]
    open: bool = False


SIMPLE_KEYS: dict[str, Checker] = {
    "app_name": _str,
    "debug": _bool,
    "version": _str,
    "description": _str,
    "route_dir": _relative_dir,
    "static_dir": _relative_dir,
    "cors_enabled": _bool,
    "cors_origins": _str_list,
    "cors_allow_credentials": _bool,
    "cors_allow_methods": _str_list,
    "cors_allow_headers": _str_list,
    "docs_enabled": _bool,
    "openapi_url": _url_path_or_none,
    "lazy": _bool,
    "commands": _commands,
}
SECTIONS: dict[str, _Section] = {
    "server": _Section(
        {"host": _str, "port": _int_range(1, 65535), "workers": _int_range(1, 512)}, open=True
    ),
    "logging": _Section({"level": _level, "production_level": _level}),
    "build": _Section(
        {
            "cache_dir": _relative_dir,
            "compression_level": _int_range(1, 9),
            "exclude_patterns": _str_list,
            "include_patterns": _str_list,
            "require_request": _bool,
        }
    ),
}
SECTION_TYPES: dict[str, type[Any]] = {
    "server": ServerConfig,
    "logging": LoggingConfig,
    "build": BuildConfig,
}


@functools.cache
def _uvicorn_settings() -> frozenset[str] | None:
    """The keyword arguments uvicorn.Config takes; None when any would do or uvicorn is absent.

    Imported here, not at module level: only a config.py with extra server keys pays for it,
    so a plain `build` stays fast. fastapi-route depends on uvicorn, but a build hook's isolated
    environment could lack it or hold a broken one, and then the check is skipped.
    """
    try:
        import uvicorn

        parameters = inspect.signature(uvicorn.Config).parameters.values()
    except Exception:  # whatever stops the import: the check is only a help, skip it
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters)


def server_option_problem(key: str) -> tuple[str, str] | None:
    """(message, hint) when `server[key]` cannot go to uvicorn as is."""
    if key in RESERVED_SERVER_OPTIONS or key.startswith("reload"):
        return ("is set by fastapi-route itself",
                "remove it: fastapi-route passes the app, and dev reloads on changes while run "
                "does not")
    accepted = _uvicorn_settings()
    if accepted is not None and key not in accepted:
        return ("is not a uvicorn setting",
                "host, port and workers are server keys of their own; the others go to "
                "uvicorn.Config as they are (see `uvicorn --help`)")
    return None
