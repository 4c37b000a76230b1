"""Settings: defaults < config.py < command-line flags, held in one frozen dataclass.

This module is the schema: the settings, their defaults, and the values each accepts (uvicorn
settings in `server` and FastAPI's keyword arguments in `fastapi` included), so that `build`
(and the wheel's build hook) refuses what `run` would refuse. Reading a project's config.py
file is `fastapi_route.config`'s job.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .conventions import DOCS_URL, OAUTH2_REDIRECT_URL, REDOC_ASSETS, REDOC_URL, SWAGGER_UI_ASSETS

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# The CLI's own commands: a `commands` entry by one of these names could never run.
BUILTIN_COMMANDS = ("init", "dev", "build", "run", "status", "clean", "routes",
                    "explain", "openapi")
# uvicorn settings that `run` and `dev` decide themselves (host, port and workers are server
# keys of their own); any `reload...` key too.
RESERVED_SERVER_OPTIONS = ("app", "factory")

# config.py's `fastapi`: keyword arguments for FastAPI(...), as `server` is for uvicorn.
FASTAPI_SETTING = "fastapi"
# FastAPI(...) arguments that fastapi-route passes itself, with where a project says them instead.
# `on_startup`/`on_shutdown` too: Starlette takes them or a lifespan, and we always may pass one.
FASTAPI_OWN_ARGUMENTS: dict[str, str] = {
    "routes": "routes come from the route tree; app.py's configure(app) can add or mount others",
    "lifespan": "define `lifespan` in app.py",
    "on_startup": "put start-up code in app.py's `lifespan`, before its `yield`",
    "on_shutdown": "put shut-down code in app.py's `lifespan`, after its `yield`",
    "middleware": "list it in app.py's `middleware` (or write middleware.py)",
    "exception_handlers": "give it in app.py's `exception_handlers`",
}
# FastAPI(...) arguments that are also top-level settings: FastAPI's name -> config.py's.
FASTAPI_TOP_LEVEL: dict[str, str] = {
    "title": "app_name",
    "version": "version",
    "description": "description",
    "openapi_url": "openapi_url",
    "debug": "debug",
}
# FastAPI(...) arguments that place a page fastapi-route must know about (docs.py's page, the
# build's SHADOWED_ROUTE check): a URL path or None, as FastAPI takes them.
FASTAPI_PAGE_URLS = ("docs_url", "redoc_url", "swagger_ui_oauth2_redirect_url")


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
    openapi: bool = False  # make the OpenAPI document at build (SPEC 13.2; runs the app's code)


@dataclass(frozen=True)
class HealthConfig:
    """SPEC 13.1's probe paths (None: not served): `live` answers 200 while the process
    serves; `ready` answers 503 until every route file is imported (and while draining)."""

    ready: str | None = None
    live: str | None = None

    def paths(self) -> list[tuple[str, str]]:
        """Each path served, with what it is, readiness first."""
        return [(path, f"the {what} path ({path})")
                for path, what in ((self.ready, "readiness"), (self.live, "liveness"))
                if path is not None]


@dataclass(frozen=True)
class DocsConfig:
    """How Swagger UI and ReDoc are served (SPEC 14.5). `offline`: from the app itself, with
    the files of the fastapi-offline package (the `offline-docs` extra), not from a CDN."""

    offline: bool = False


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
    health: HealthConfig = field(default_factory=HealthConfig)
    docs: DocsConfig = field(default_factory=DocsConfig)
    commands: Mapping[str, str] = field(default_factory=dict)
    # FastAPI(...)'s other keyword arguments (those with a top-level name above are moved there)
    fastapi: Mapping[str, Any] = field(default_factory=dict)

    def with_build(self, **changes: Any) -> Config:
        return dataclasses.replace(self, build=dataclasses.replace(self.build, **changes))

    def pages(self, docs_page: bool) -> Pages:
        """The documentation pages the app serves, given whether the project has a docs.py."""
        if not self.docs_enabled:
            return Pages()
        document = self.openapi_url
        docs: str | None = self.fastapi.get("docs_url", DOCS_URL)
        if not (docs_page or document):  # FastAPI shows no Swagger UI without a document
            docs = None
        redirect = (self.fastapi.get("swagger_ui_oauth2_redirect_url", OAUTH2_REDIRECT_URL)
                    if docs and not docs_page else None)
        redoc = self.fastapi.get("redoc_url", REDOC_URL) if document else None
        return Pages(document, docs, docs_page and docs is not None, redirect or None,
                     redoc or None, self.docs.offline)

    def fastapi_arguments(self, docs_page: bool) -> dict[str, Any]:
        """FastAPI(...)'s keyword arguments from the settings, all but what fastapi-route
        passes itself (FASTAPI_OWN_ARGUMENTS)."""
        pages = self.pages(docs_page)
        return {
            **self.fastapi,
            "title": self.app_name,
            "version": self.version,
            "description": self.description,
            "debug": self.debug,
            "openapi_url": pages.openapi_url,
            # docs.py's page is a route of ours at that URL: FastAPI adds no Swagger UI there;
            # offline, Swagger UI and ReDoc are our routes too (runtime.offline_docs)
            "docs_url": None if pages.docs_page or pages.offline else pages.docs_url,
            "redoc_url": None if pages.offline else pages.redoc_url,
        }


@dataclass(frozen=True)
class Pages:
    """The URLs of the pages the app serves before any route file (None: not served): what
    create_app gives FastAPI and docs.py's route, and what the build's SHADOWED_ROUTE check
    guards (`explain` reads the app's routes, so it agrees)."""

    openapi_url: str | None = None
    docs_url: str | None = None  # Swagger UI, or docs.py's page
    docs_page: bool = False  # docs_url serves docs.py's page
    oauth2_redirect_url: str | None = None  # Swagger UI's OAuth2 redirect
    redoc_url: str | None = None
    offline: bool = False  # Swagger UI and ReDoc load their files from the app, not a CDN

    @property
    def swagger_ui(self) -> bool:
        """Whether docs_url serves Swagger UI (not docs.py's page, not nothing)."""
        return self.docs_url is not None and not self.docs_page

    def assets(self) -> dict[str, str]:
        """Offline: the URL of each file Swagger UI and ReDoc load, with the file's name
        (`/docs/swagger-ui.css`: `swagger-ui.css`); else none."""
        found: dict[str, str] = {}
        for page, names in ((self.docs_url if self.swagger_ui else None, SWAGGER_UI_ASSETS),
                            (self.redoc_url, REDOC_ASSETS)):
            if self.offline and page is not None:
                found.update({asset_url(page, name): name for name in names})
        return found


def asset_url(page: str, name: str) -> str:
    """Where a page's file is served: below the page's own URL."""
    return f"{page.rstrip('/')}/{name}"



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


def _probe_path(value: Any) -> str | None:
    """A health probe's URL path: a plain path (no `{param}`), or None for none."""
    if value is not None and (not isinstance(value, str) or not value.startswith("/")
                              or "{" in value or "}" in value or "?" in value):
        raise ValueError("must be a plain URL path starting with '/' (no '{', '}' or '?'), "
                         "or None")
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
            "openapi": _bool,
        }
    ),
    "health": _Section({"ready": _probe_path, "live": _probe_path}),
    "docs": _Section({"offline": _bool}),
}
SECTION_TYPES: dict[str, type[Any]] = {
    "server": ServerConfig,
    "logging": LoggingConfig,
    "build": BuildConfig,
    "health": HealthConfig,
    "docs": DocsConfig,
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


# --- config.py's `fastapi`: checked against the installed FastAPI ----------------------------


@functools.cache
def fastapi_parameters() -> Mapping[str, Any] | None:
    """FastAPI.__init__'s keyword arguments, each with its type hint (None where the hints
    cannot be read); None when FastAPI cannot be imported.

    Imported here, not at module level: only a config.py with a `fastapi` setting pays for it
    (about 0.2 s, FastAPI and pydantic), so a plain `build` stays fast. The signature is
    FastAPI's public surface, the same on every version we support; a build hook's isolated
    environment that lacks a working FastAPI skips the check, and `run` checks again.
    """
    try:
        from fastapi import FastAPI

        parameters = inspect.signature(FastAPI.__init__).parameters.values()
    except Exception:  # whatever stops the import: the check is only a help, skip it
        return None
    try:
        hints = typing.get_type_hints(FastAPI.__init__)
    except Exception:  # a hint that no longer resolves: names are still checked
        hints = {}
    keywords = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    # The `**extra` of older FastAPI (0.110) only stores what it gets: a misspelt name would
    # vanish in it, so only the named arguments are accepted.
    return {p.name: hints.get(p.name) for p in parameters
            if p.kind in keywords and p.name != "self"}


# FastAPI(...) arguments that become parts of the OpenAPI document, with the model of
# `fastapi.openapi.models` each part is (True: a list of them). FastAPI validates them only
# when it makes the document, so a wrong one would be a 500 on /openapi.json and /docs.
_DOCUMENT_PARTS = {
    "servers": ("Server", True),
    "openapi_tags": ("Tag", True),
    "contact": ("Contact", False),
    "license_info": ("License", False),
    "openapi_external_docs": ("ExternalDocumentation", False),
}


@functools.cache
def _validators(name: str) -> tuple[Any, Any]:
    """pydantic validators (which FastAPI depends on) for FastAPI's argument `name`: of its
    type hint, and of the document part it becomes; each None where none can be made (no
    hint, pydantic 1, a hint pydantic cannot read)."""
    parameters = fastapi_parameters()
    hint = parameters.get(name) if parameters else None
    if hint is None:
        return None, None
    try:
        from pydantic import ConfigDict, TypeAdapter

        of_hint = TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:  # pydantic 1, or a hint pydantic cannot make a validator of
        return None, None
    part = _DOCUMENT_PARTS.get(name)
    model = getattr(_openapi_models(), part[0], None) if part else None
    if part is None or model is None:
        return of_hint, None
    return of_hint, TypeAdapter(list[model] if part[1] else model)  # type: ignore[valid-type]


def _openapi_models() -> Any:
    from fastapi.openapi import models

    return models


def _value_problem(name: str, value: Any) -> str | None:
    """Why FastAPI would not take `value` for its argument `name`, or None (also when it
    cannot be told). Against the hint strictly: FastAPI gets the value as written, so it must
    already be what the hint says (True, not "yes"; a list where it says list). A part of the
    document then as FastAPI will validate it (lax)."""
    of_hint, of_part = _validators(name)
    if of_hint is not None:
        try:
            of_hint.validate_python(value, strict=True)
        except Exception as exc:  # pydantic's ValidationError
            hint = fastapi_parameters()[name]  # type: ignore[index]  # there: a validator
            return f"must be {_type_name(hint)}, as FastAPI(...) takes it ({_first_error(exc)})"
    if of_part is not None and value is not None:
        try:
            of_part.validate_python(value)
        except Exception as exc:
            model, many = _DOCUMENT_PARTS[name]
            kind = f"a list of OpenAPI {model} objects" if many else f"an OpenAPI {model} object"
            return f"must be {kind}, as the document holds it ({_first_error(exc)})"
    return None


_SHOWN = 60  # characters of a value's repr in a message


def shown(value: Any) -> str:
    """A value as a message shows it: its repr, shortened (a `servers` list can be long)."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _type_name(hint: Any) -> str:
    return str(getattr(hint, "__name__", None) if isinstance(hint, type) else hint).replace(
        "typing.", "").replace("collections.abc.", "")


def fastapi_argument_problem(name: str, value: Any) -> tuple[str, str, str] | None:
    """(code, message, hint) when config.py's `fastapi[name] = value` cannot go to FastAPI(...)
    as is; the top-level names (FASTAPI_TOP_LEVEL) are the caller's to check."""
    if name in FASTAPI_OWN_ARGUMENTS:
        return ("INVALID_CONFIG", "is set by fastapi-route itself",
                FASTAPI_OWN_ARGUMENTS[name] + " (see the README's app.py section)")
    parameters = fastapi_parameters()
    if parameters is not None and name not in parameters:
        import difflib

        choices = [p for p in parameters if p not in FASTAPI_OWN_ARGUMENTS]
        close = difflib.get_close_matches(name, choices, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return ("UNKNOWN_CONFIG_KEY", "is not a keyword argument of FastAPI(...)",
                hint + "the keys of `fastapi` are FastAPI's own (see FastAPI's reference for "
                "FastAPI(...)); helper names go outside the dict")
    if name in FASTAPI_PAGE_URLS:
        try:
            _url_path_or_none(value)
        except ValueError as exc:
            return ("INVALID_CONFIG", f"{exc}, got {shown(value)}", f"fix fastapi[{name!r}]")
    problem = _value_problem(name, value)
    if problem is not None:
        return ("INVALID_CONFIG", f"{problem}, got {shown(value)}",
                f"fix fastapi[{name!r}] (FastAPI gets the value as written)")
    return None


def _first_error(exc: Exception) -> str:
    """pydantic's first complaint, where in the value it is: `[0]['name']: Field required`."""
    errors = getattr(exc, "errors", None)
    found = errors() if callable(errors) else []
    if not found:
        return str(exc)
    # pydantic's own steps (`function-wrap[wrap_val()]`) are no place in the user's value
    where = "".join(f"[{part!r}]" for part in found[0].get("loc", ())
                    if not (isinstance(part, str) and "[" in part))
    return f"{where}: {found[0]['msg']}" if where else str(found[0]["msg"])
