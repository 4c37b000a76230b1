"""Reading a project's config.py into a `Config`, checked against the schema in settings.py.

config.py is a settings file (like gunicorn.conf.py): it is executed in a namespace of its own,
never imported as a module, and its public module-level names are the settings. That way
`server = {"port": int(os.environ.get("PORT", 8000))}` works, and a module or function it
defines for its own use is not mistaken for a setting. Every problem of the file is reported
at once, each at the line of the last top-level binding of its setting.
"""

from __future__ import annotations

import ast
import traceback
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .bindings import top_level_bindings
from .conventions import CONFIG_FILE, PARAMS_DIR
from .errors import ConfigError, Problem, render_problems
from .settings import (
    BUILTIN_COMMANDS,
    FASTAPI_SETTING,
    FASTAPI_TOP_LEVEL,
    SECTION_TYPES,
    SECTIONS,
    SIMPLE_KEYS,
    Config,
    fastapi_argument_problem,
    server_option_problem,
    shown,
)

__all__ = ["Config", "load_config"]  # Config from the schema, for the modules that load one

KNOWN_SETTINGS = (*SIMPLE_KEYS, *SECTIONS, FASTAPI_SETTING)


def load_config(root: Path, *, display_root: str = "") -> Config:
    """Read `root/config.py` if present; raise ConfigError listing every bad setting."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return Config()
    display = f"{display_root}/{CONFIG_FILE}" if display_root else CONFIG_FILE
    config = _read(path, display)
    if not isinstance(config, Config):
        raise ConfigError(render_problems(config))
    return config


def _read(path: Path, display: str) -> Config | list[Problem]:
    """The file's settings, or what is wrong with it."""
    executed = _execute(path, display)
    if isinstance(executed, Problem):
        return [executed]
    namespace, tree = executed
    lines, imported = _setting_lines(tree)
    # An unknown name an import bound (`from os import environ`, `from __future__ import
    # annotations`, `TYPE_CHECKING`) is the file's own; `from base import debug` is a setting.
    values = {
        k: v for k, v in namespace.items()
        if _is_setting(k, v) and not (k in imported and k not in KNOWN_SETTINGS)
    }
    settings, problems = _check(values, lines, display)
    if FASTAPI_SETTING in values:
        # Each key's problem at the key's own line: `fastapi` is often a long dict.
        key_lines = _key_lines(tree, FASTAPI_SETTING, lines.get(FASTAPI_SETTING, 0))
        problems += _check_fastapi(values, settings, lines, key_lines, display)
    if problems:
        return problems
    config = Config(**settings)
    if config.build.cache_dir in (config.route_dir, config.static_dir):
        return [Problem(
            display, lines.get("build", 0), "INVALID_CONFIG",
            f"'build.cache_dir' ({config.build.cache_dir!r}) is also the routes or static folder",
            "`clean` deletes the cache folder: give it its own name",
        )]
    inside = [name for name in ("route_dir", "static_dir")
              if getattr(config, name).split("/")[0] == PARAMS_DIR]
    if inside:
        return [Problem(
            display, lines.get(inside[0], 0), "INVALID_CONFIG",
            f"{inside[0]} ({getattr(config, inside[0])!r}) is in {PARAMS_DIR}/, the folder of "
            "the project's own segment types (SPEC 14.1)",
            f"give the {'routes' if inside[0] == 'route_dir' else 'static files'} a folder of "
            f"their own, e.g. {'api' if inside[0] == 'route_dir' else 'assets'}",
        )]
    taken = _probe_taken(config)
    if taken is not None:
        return [Problem(display, lines.get("health", 0), "INVALID_CONFIG", taken,
                        "give each probe a path of its own (health = {'ready': '/readyz', "
                        "'live': '/livez'})")]
    return config


def setting_line(root: Path, name: str, key: str | None = None) -> int:
    """The line of config.py where setting `name` (its `key`, for a dict setting) is last
    given, read from the AST without running the file (0: not found): for a problem that only
    the runtime can see, such as a package a setting needs that is missing where the app runs."""
    try:
        tree = ast.parse((root / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return 0
    line = _setting_lines(tree)[0].get(name, 0)
    if key is None or not line:
        return line
    return _key_lines(tree, name, line).get(key, line)


def _probe_taken(config: Config) -> str | None:
    """Why a health probe's path is not its own: the other probe's, or a page the app serves
    (the document, Swagger UI, its OAuth2 redirect, ReDoc: the probes would hide them)."""
    health = config.health
    if health.ready is not None and health.ready == health.live:
        return f"'health.ready' and 'health.live' are the same path ({health.ready!r})"
    pages: dict[str | None, str] = {}
    for docs_page in (False, True):  # whether or not the project has a docs.py
        served = config.pages(docs_page)
        pages.update({served.openapi_url: "the OpenAPI document",
                      served.docs_url: "the docs page",
                      served.oauth2_redirect_url: "Swagger UI's OAuth2 redirect",
                      served.redoc_url: "ReDoc"})
        pages.update({url: f"the offline docs' {name}" for url, name in served.assets().items()})
    pages.pop(None, None)
    for key, path in (("ready", health.ready), ("live", health.live)):
        if path in pages:
            return f"'health.{key}' ({path!r}) is the path of {pages[path]}"
    return None


def _execute(path: Path, display: str) -> tuple[dict[str, Any], ast.Module] | Problem:
    """Run the file in a namespace of its own: the namespace and the parsed file, or why not."""
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "__fastapi_route_config__"}
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(display, 0, "CONFIG_ERROR", f"cannot read config.py: {exc}",
                       "make it a readable UTF-8 text file")
    try:
        tree = ast.parse(source, str(path))
        exec(compile(tree, str(path), "exec"), namespace)
    except SyntaxError as exc:
        return Problem(display, exc.lineno or 0, "CONFIG_ERROR", f"syntax error: {exc.msg}",
                       "fix the Python syntax of config.py")
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a settings file must not end the process
        line = 0
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == str(path):
                line = frame.lineno or 0
        return Problem(display, line, "CONFIG_ERROR",
                       f"config.py raised {type(exc).__name__}: {exc}",
                       "config.py runs at every build and start; make it run cleanly")
    return namespace, tree


def _top_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement that runs at module level, in file order: those in the blocks of an
    `if`, `try`, `with`, ... too, not those of a function or class body."""
    for node in body:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        blocks = [getattr(node, name, None) for name in ("body", "orelse", "finalbody")]
        blocks += [h.body for h in getattr(node, "handlers", ())]
        blocks += [c.body for c in getattr(node, "cases", ())]
        for block in blocks:
            if isinstance(block, list):
                yield from _top_level_statements(block)


def _key_lines(tree: ast.Module, name: str, line: int) -> dict[str, int]:
    """Where the file writes each key of the dict setting `name`, up to its last binding at
    `line`: in the literal it is last assigned (`{"docs_url": ...}` or `dict(docs_url=...)`),
    or in a later `name["key"] = ...`. A key computed at run time has no line of its own (the
    caller uses the setting's)."""
    found: dict[str, int] = {}
    for node in _top_level_statements(tree.body):
        if node.lineno > line:
            break
        value: ast.expr | None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id == name:
                found = _literal_key_lines(value)
            elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                    and target.value.id == name and isinstance(target.slice, ast.Constant)
                    and isinstance(target.slice.value, str)):
                found[target.slice.value] = node.lineno
    return found


def _literal_key_lines(value: ast.expr | None) -> dict[str, int]:
    if isinstance(value, ast.Dict):
        return {k.value: k.lineno for k in value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id == "dict"):
        return {k.arg: k.lineno for k in value.keywords if k.arg is not None}
    return {}


def _setting_lines(tree: ast.Module) -> tuple[dict[str, int], set[str]]:
    """Line of the last top-level binding of each name, and the names an import bound last.
    A def or class is never a setting (a setting is not callable), so it moves no line."""
    lines: dict[str, int] = {}
    imported: set[str] = set()
    for binding in top_level_bindings(tree.body):  # in file order: the last one wins
        if binding.kind in ("function", "class"):
            continue
        lines[binding.name] = binding.line
        if binding.kind == "import":
            imported.add(binding.name)
        else:
            imported.discard(binding.name)
    return lines, imported


def _is_setting(name: str, value: Any) -> bool:
    """Public data names are settings; imported modules and callables are the file's own."""
    if name.startswith("_"):
        return False
    return not (isinstance(value, types.ModuleType) or callable(value))


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
                    problem = server_option_problem(key)
                    if problem is not None:
                        bad(full, name, *problem)
                else:
                    bad(full, name, "is not a known setting",
                        f"known keys of {name}: " + ", ".join(section.keys))
            if extra:
                known["options"] = extra
            settings[name] = SECTION_TYPES[name](**known)
        elif name == FASTAPI_SETTING:
            continue  # _check_fastapi: its keys are checked against the top-level settings
        else:
            problems.append(
                Problem(
                    display, lines.get(name, 0), "UNKNOWN_CONFIG_KEY",
                    f"'{name}' is not a known setting",
                    "known settings: " + ", ".join(KNOWN_SETTINGS)
                    + "; prefix helper names with '_'",
                )
            )
    return settings, problems


def _check_fastapi(
    values: Mapping[str, Any], settings: dict[str, Any], lines: Mapping[str, int],
    key_lines: Mapping[str, int], display: str,
) -> list[Problem]:
    """config.py's `fastapi` into `settings`: each key checked against the installed FastAPI,
    a key that is also a top-level setting (`title` is `app_name`) moved to it, unless the
    file sets that too."""
    value = values[FASTAPI_SETTING]
    line = lines.get(FASTAPI_SETTING, 0)
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        return [Problem(display, line, "INVALID_CONFIG",
                        f"'{FASTAPI_SETTING}' must be a dict of FastAPI(...) keyword arguments,"
                        f" got {shown(value)}", 'write fastapi = {"docs_url": "/api-docs", ...}')]
    problems: list[Problem] = []
    arguments: dict[str, Any] = {}
    for key, item in value.items():
        where = key_lines.get(key, line)
        full = f"{FASTAPI_SETTING}.{key}"
        top = FASTAPI_TOP_LEVEL.get(key)
        if top is not None and top in values:
            problems.append(Problem(
                display, where, "INVALID_CONFIG",
                f"'{full}' and '{top}' ({display}:{lines.get(top, 0)}) both set FastAPI's "
                f"`{key}`", f"keep one of them: the top-level `{top}`, or `{full}`"))
        elif top is not None:
            try:
                settings[top] = SIMPLE_KEYS[top](item)
            except ValueError as exc:
                problems.append(Problem(display, where, "INVALID_CONFIG",
                                        f"'{full}' {exc}, got {shown(item)}",
                                        f"fix {FASTAPI_SETTING}[{key!r}]"))
        else:
            problem = fastapi_argument_problem(key, item)
            if problem is None:
                arguments[key] = item
            else:
                code, message, hint = problem
                problems.append(Problem(display, where, code, f"'{full}' {message}", hint))
    settings[FASTAPI_SETTING] = arguments
    return problems
