"""Settings: defaults < config.py < command-line flags, held in one frozen dataclass.

config.py is a settings file (like gunicorn.conf.py): it is executed in a namespace of its own,
never imported as a module, and its public module-level names are the settings. That way
`server = {"port": int(os.environ.get("PORT", 8000))}` works, and a module or function it
defines for its own use is not mistaken for a setting.

Every check happens here, when the file is loaded, so `build` (and the wheel's build hook)
refuses what `run` would refuse: uvicorn settings included.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import inspect
import traceback
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .conventions import CONFIG_FILE
from .errors import ConfigError, Problem, render_problems

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
    openapi_url: str = "/openapi.json"
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


def _url_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError("must be a URL path starting with '/'")
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
    "openapi_url": _url_path,
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


def _server_option_problem(key: str) -> tuple[str, str] | None:
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


def _bindings(source: str) -> tuple[dict[str, int], set[str]]:
    """Line of the last module-level binding of each name, and the names an import bound last.

    Module level includes the bodies of top-level `if`/`try`/`with`/`for` blocks (a setting is
    often chosen by an `if`), but not function or class bodies.
    """
    found: list[tuple[int, str, bool]] = []  # (line, name, bound by an import)

    def visit(statements: list[Any]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.extend(
                    (node.lineno, (a.asname or a.name).split(".")[0], True)
                    for a in node.names if a.name != "*"
                )
                continue
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
                targets = [node.target]
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
            for target in targets:
                found.extend(
                    (node.lineno, n.id, False) for n in ast.walk(target) if isinstance(n, ast.Name)
                )
            for block in ("body", "orelse", "finalbody", "handlers", "cases"):
                visit(getattr(node, block, []))

    with contextlib.suppress(SyntaxError):  # _execute reports it
        visit(ast.parse(source).body)
    lines: dict[str, int] = {}
    imported: set[str] = set()
    for line, name, by_import in sorted(found, key=lambda f: f[0]):
        lines[name] = line
        if by_import:
            imported.add(name)
        else:
            imported.discard(name)
    return lines, imported


def _is_setting(name: str, value: Any) -> bool:
    """Public data names are settings; imported modules and callables are the file's own."""
    if name.startswith("_"):
        return False
    return not (isinstance(value, types.ModuleType) or callable(value))


def _execute(path: Path, display: str) -> tuple[dict[str, Any], str]:
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "__fastapi_route_config__"}
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(render_problems([Problem(
            display, 0, "CONFIG_ERROR", f"cannot read config.py: {exc}",
            "make it a readable UTF-8 text file",
        )])) from None
    try:
        code = compile(source, str(path), "exec")
        exec(code, namespace)
    except SyntaxError as exc:
        raise ConfigError(
            render_problems(
                [
                    Problem(
                        display, exc.lineno or 0, "CONFIG_ERROR", f"syntax error: {exc.msg}",
                        "fix the Python syntax of config.py",
                    )
                ]
            )
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a settings file must not end the process
        line = 0
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == str(path):
                line = frame.lineno or 0
        raise ConfigError(
            render_problems(
                [
                    Problem(
                        display, line, "CONFIG_ERROR",
                        f"config.py raised {type(exc).__name__}: {exc}",
                        "config.py runs at every build and start; make it run cleanly",
                    )
                ]
            )
        ) from None
    return namespace, source


def _check(
    values: Mapping[str, Any], lines: Mapping[str, int], display: str
) -> tuple[dict[str, Any], list[Problem]]:
    settings: dict[str, Any] = {}
    problems: list[Problem] = []

    def bad(key: str, top: str, message: str, hint: str) -> None:
        problems.append(
            Problem(display, lines.get(top, 0), "INVALID_CONFIG", f"'{key}' {message}", hint)
        )

    for name, value in values.items():
        if name in SIMPLE_KEYS:
            try:
                settings[name] = SIMPLE_KEYS[name](value)
            except ValueError as exc:
                bad(name, name, f"{exc}, got {value!r}", f"set {name} to a valid value")
                continue
            if name == "commands":
                for command in settings[name]:
                    if command in BUILTIN_COMMANDS:
                        bad(f"commands.{command}", name, "is a built-in command",
                            "give it another name; the built-in commands are "
                            + ", ".join(BUILTIN_COMMANDS))
        elif name in SECTIONS:
            section = SECTIONS[name]
            if not isinstance(value, dict):
                bad(name, name, f"must be a dict, got {value!r}", f"write {name} = {{...}}")
                continue
            known: dict[str, Any] = {}
            extra: dict[str, Any] = {}
            for key, item in value.items():
                full = f"{name}.{key}"
                if key in section.keys:
                    try:
                        known[key] = section.keys[key](item)
                    except ValueError as exc:
                        bad(full, name, f"{exc}, got {item!r}", f"fix {name}[{key!r}]")
                elif section.open and isinstance(key, str):
                    extra[key] = item
                    problem = _server_option_problem(key)
                    if problem is not None:
                        bad(full, name, *problem)
                else:
                    bad(full, name, "is not a known setting",
                        f"known keys of {name}: " + ", ".join(section.keys))
            if extra:
                known["options"] = extra
            settings[name] = SECTION_TYPES[name](**known)
        else:
            problems.append(
                Problem(
                    display, lines.get(name, 0), "UNKNOWN_CONFIG_KEY",
                    f"'{name}' is not a known setting",
                    "known settings: " + ", ".join([*SIMPLE_KEYS, *SECTIONS])
                    + "; prefix helper names with '_'",
                )
            )
    return settings, problems


def load_config(root: Path, *, display_root: str = "") -> Config:
    """Read `root/config.py` if present; raise ConfigError listing every bad setting."""
    path = root / CONFIG_FILE
    display = f"{display_root}/{CONFIG_FILE}" if display_root else CONFIG_FILE
    if not path.is_file():
        return Config()
    namespace, source = _execute(path, display)
    lines, imported = _bindings(source)
    # An unknown name an import bound (`from os import environ`, `from __future__ import
    # annotations`, `TYPE_CHECKING`) is the file's own; `from base import debug` is a setting.
    values = {
        k: v for k, v in namespace.items()
        if _is_setting(k, v) and not (k in imported and k not in SIMPLE_KEYS and k not in SECTIONS)
    }
    settings, problems = _check(values, lines, display)
    if problems:
        raise ConfigError(render_problems(problems))
    config = Config(**settings)
    if config.build.cache_dir in (config.route_dir, config.static_dir):
        raise ConfigError(
            render_problems(
                [
                    Problem(
                        display, lines.get("build", 0), "INVALID_CONFIG",
                        f"'build.cache_dir' ({config.build.cache_dir!r}) is also the routes or "
                        "static folder", "`clean` deletes the cache folder: give it its own name",
                    )
                ]
            )
        )
    return config
