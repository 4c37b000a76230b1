"""The `fastapi-route` command: thin click commands over the pipeline and the runtime."""

from __future__ import annotations

import functools
import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .config import Config, load_config
from .console import block, echo, size
from .errors import BuildFailed, CacheError, FastAPIRouteError, NoBuildError
from .pipeline import cache as cache_io
from .pipeline import freshness
from .pipeline.build import build as run_build
from .project import Project, find_project

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command needs: the project and its settings, found once."""

    def __init__(self, path: Path | None, app: str | None) -> None:
        self.project: Project = find_project(path, app)
        self.config: Config = load_config(self.project.root)

    @property
    def cache_path(self) -> Path:
        return self.project.root / self.config.build.cache_dir


def project_options(func: F) -> F:
    """--project PATH / --app NAME on every command that works on a project."""

    @click.option(
        "--project", "project_path", type=click.Path(path_type=Path), default=None,
        help="Project folder (holding routes/ and config.py). Default: the current folder.",
    )
    @click.option("--app", default=None, help="An installed app, by distribution or package name.")
    @functools.wraps(func)
    def wrapper(*args: Any, project_path: Path | None, app: str | None, **kwargs: Any) -> Any:
        # Given before the command (`fastapi-route --project X status`) they apply too.
        outer = click.get_current_context().find_root().obj or (None, None)
        return func(Context(project_path or outer[0], app or outer[1]), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def expand(command: str, config: Config) -> str:
    """Substitute `{server.port}`, `{app_name}`, ... from the settings."""

    def value(match: re.Match[str]) -> str:
        current: Any = config
        for part in match.group(1).split("."):
            if isinstance(current, dict) and part in current:
                current = current[part]
            elif hasattr(current, part) and not part.startswith("_"):
                current = getattr(current, part)
            else:
                return match.group(0)  # not a setting: leave the braces for the shell
        return str(current)

    return _PLACEHOLDER.sub(value, command)


def _custom_command(name: str, command: str) -> click.Command:
    @click.command(name=name, help=f"Custom command from config.py: {command}")
    @project_options
    def custom(ctx: Context) -> None:
        if name not in ctx.config.commands:
            raise FastAPIRouteError(
                f"{ctx.project.root / 'config.py'} defines no command {name!r}",
                "see `fastapi-route --help --project PATH` for its commands",
            )
        line = expand(ctx.config.commands[name], ctx.config)
        echo(f"$ {line}", bold=True)
        sys.exit(subprocess.call(line, shell=True, cwd=ctx.project.root))

    return custom


class FastAPIRouteGroup(click.Group):
    """Turns every user mistake into a message and exit code 1, never a traceback; adds the
    project's `commands` from config.py as subcommands."""

    _project_args: tuple[Path | None, str | None] = (None, None)

    def _custom(self) -> dict[str, str]:
        try:
            config = load_config(find_project(*self._project_args).root)
        except FastAPIRouteError:
            return {}  # no project here (or a broken one): only the built-in commands
        return {k: v for k, v in config.commands.items() if k not in self.commands}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Custom commands come from the project that --project/--app names, if any."""
        path: Path | None = None
        app: str | None = None
        for i, arg in enumerate(args):
            for flag in ("--project", "--app"):
                value = None
                if arg == flag and i + 1 < len(args):
                    value = args[i + 1]
                elif arg.startswith(flag + "="):
                    value = arg.split("=", 1)[1]
                if value is not None:
                    if flag == "--project":
                        path = Path(value)
                    else:
                        app = value
        self._project_args = (path, app)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *sorted(self._custom())]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        custom = self._custom()
        return _custom_command(cmd_name, custom[cmd_name]) if cmd_name in custom else None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]  # every failure is exit 1, a bad flag too
            raise
        except BuildFailed as exc:
            echo(str(exc), err=True, fg="red")
            sys.exit(1)
        except FastAPIRouteError as exc:
            echo(f"Error: {exc}", err=True, fg="red")
            sys.exit(1)


@click.group(cls=FastAPIRouteGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fastapi-route")
@click.option("--project", "project_path", type=click.Path(path_type=Path), default=None,
              help="Project folder for the command (also accepted after it).")
@click.option("--app", default=None, help="Installed app for the command (also after it).")
@click.pass_context
def main(ctx: click.Context, project_path: Path | None, app: str | None) -> None:
    """File-based routing for FastAPI, with a build step."""
    ctx.obj = (project_path, app)


@main.command()
@click.option("--force", is_flag=True, help="Delete the cache folder before building.")
@click.option(
    "--compression", type=click.IntRange(1, 9), default=None,
    help="zlib level 1-9 (default: build.compression_level in config.py, else 6).",
)
@project_options
def build(ctx: Context, force: bool, compression: int | None) -> None:
    """Scan, validate, compress and save the route table to the cache."""
    if ctx.project.installed:
        raise FastAPIRouteError(
            f"{ctx.project.name} is an installed app; its wheel already carries its cache",
            "build from the app's source tree (--project PATH)",
        )
    config = ctx.config if compression is None else ctx.config.with_build(
        compression_level=compression
    )
    echo(f"Building {ctx.project.name} ({ctx.project.root})", bold=True)
    result = run_build(ctx.project.root, config, force=force)
    table, manifest = result.table, result.manifest
    for warning in table.warnings:
        echo(warning.render(), fg="yellow")
    steps = [
        ("Loaded configuration", "config.py" if (ctx.project.root / "config.py").is_file()
         else "defaults"),
        ("Scanned routes", f"{len(table.route_files)} route files in {config.route_dir}/"),
        ("Validated", f"{len(table.warnings)} warnings" if table.warnings else "no problems"),
        ("Compressed", f"zlib level {manifest['compression_level']}"),
        ("Saved", f"{config.build.cache_dir}/"),
    ]
    for number, (step, detail) in enumerate(steps, 1):
        echo(f"  [{number}/{len(steps)}] {step:<22}{detail}")
    echo()
    block(
        "BUILD SUMMARY",
        [
            ("Total routes", manifest["total_routes"]),
            ("Static routes", manifest["static_routes"]),
            ("Dynamic routes", manifest["dynamic_routes"]),
            ("Cache size", size(_cache_size(result.cache_path))),
            ("Compression ratio", f"{manifest['compression_ratio']}x "
             f"({size(manifest['original_size'])} -> {size(manifest['compressed_size'])})"),
            ("Build time", f"{result.seconds:.3f} s"),
            ("Cache path", result.cache_path),
        ],
    )
    echo("Build succeeded.", fg="green")


def _cache_size(path: Path) -> int:
    return sum((path / name).stat().st_size for name in cache_io.OUR_FILES
               if (path / name).is_file())


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@project_options
def status(ctx: Context, as_json: bool) -> None:
    """Show the build cache; exit 1 when there is no valid build."""
    try:
        cache = cache_io.load(ctx.cache_path, ctx.config.route_dir)
    except CacheError as exc:
        state = "Not built" if isinstance(exc, NoBuildError) else "Invalid"
        if as_json:
            click.echo(json.dumps({"status": state, "valid": False, "error": exc.message,
                                   "cache_path": str(ctx.cache_path)}, indent=2))
        else:
            block("BUILD STATUS", [("Status", state), ("Cache path", ctx.cache_path)])
            echo(f"Error: {exc}", err=True, fg="red")
        sys.exit(1)
    stale = freshness.check(ctx.project.root, ctx.config, cache)
    manifest = cache.manifest
    if as_json:
        click.echo(json.dumps(
            {**manifest, "status": "Built", "valid": True, "cache_path": str(ctx.cache_path),
             "cache_size": _cache_size(ctx.cache_path), "stale": stale.stale,
             "stale_reason": stale.describe()},
            indent=2, sort_keys=True))
        return
    block(
        "BUILD STATUS",
        [
            ("Status", "Built"),
            ("Created", manifest.get("created_at")),
            ("Total routes", manifest.get("total_routes")),
            ("Static routes", manifest.get("static_routes")),
            ("Dynamic routes", manifest.get("dynamic_routes")),
            ("Cache size", size(_cache_size(ctx.cache_path))),
            ("Compression", f"level {manifest.get('compression_level')}, "
             f"ratio {manifest.get('compression_ratio')}x"),
            ("Version", manifest.get("fastapi_route_version")),
            ("Cache path", ctx.cache_path),
            ("Stale", f"yes - {stale.describe()}" if stale.stale else "no"),
        ],
    )
    if stale.stale:
        echo("The routes changed since the build: run 'fastapi-route build'.", fg="yellow")


@main.command()
@project_options
def clean(ctx: Context) -> None:
    """Delete the cache folder."""
    if ctx.project.installed:
        raise FastAPIRouteError(
            f"{ctx.project.name} is an installed app; its cache belongs to the wheel",
            "uninstall or reinstall the app instead",
        )
    if not ctx.cache_path.exists():
        echo(f"Nothing to clean: {ctx.cache_path} does not exist.")
        return
    kept = cache_io.remove(ctx.cache_path)
    if kept:
        echo(f"Removed the build files; kept {', '.join(kept)} in {ctx.cache_path} "
             "(not written by fastapi-route).", fg="yellow")
    else:
        echo(f"Removed {ctx.cache_path}.", fg="green")


def _stopped(signum: int, frame: object) -> None:
    sys.exit(0)


# uvicorn settings that run and dev decide themselves.
RESERVED_SERVER_OPTIONS = ("app", "factory", "reload", "reload_dirs", "reload_includes",
                           "reload_excludes", "reload_delay", "workers", "host", "port")


def _serve(
    ctx: Context, *, factory: str, host: str, port: int | None, workers: int,
    log_level: str, app: Any = None, **uvicorn_options: Any,
) -> None:
    """Start uvicorn: an app object for one process, else the env-configured factory (which
    every worker or reload process imports)."""
    import inspect
    import os

    import uvicorn

    from .asgi import ENV_APP, ENV_PROJECT
    from .runtime.protocol import NoDelayHTTPProtocol

    server = ctx.config.server
    accepted = set(inspect.signature(uvicorn.Config).parameters)
    unknown = sorted(set(server.options) - accepted)
    reserved = sorted(set(server.options) & set(RESERVED_SERVER_OPTIONS))
    if unknown or reserved:
        raise FastAPIRouteError(
            "config.py: server option(s) "
            + ", ".join(unknown + reserved)
            + (" are not uvicorn settings" if unknown else " are set by fastapi-route itself"),
            "host, port and workers are server keys of their own; dev reloads, run does not; "
            "other keys are uvicorn's (see `uvicorn --help`)",
        )
    if ctx.project.installed and ctx.project.package:
        os.environ[ENV_APP] = ctx.project.package
        os.environ.pop(ENV_PROJECT, None)
    else:
        os.environ[ENV_PROJECT] = str(ctx.project.root)
    target: Any = app if app is not None and workers == 1 else factory
    settings: dict[str, Any] = {
        "host": host, "port": port or server.port, "log_level": log_level.lower(),
        "http": NoDelayHTTPProtocol, "factory": isinstance(target, str),
        "workers": None if uvicorn_options.get("reload") else workers,
    }
    settings.update(server.options)  # config.py's uvicorn settings (log_level, http, ...)
    settings.update(uvicorn_options)
    # uvicorn re-raises the SIGTERM it handled once it has drained the connections; a
    # SIGTERM is how servers are stopped, so that ends the command with exit 0.
    signal.signal(signal.SIGTERM, _stopped)
    echo(f"Serving {ctx.project.name} on http://{host}:{settings['port']}", bold=True)
    uvicorn.run(target, **settings)


@main.command()
@click.option("--host", default=None, help="Bind address (default 0.0.0.0, or server.host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@click.option("--workers", type=click.IntRange(1, 512), default=None, help="Worker processes.")
@click.option("--strict", is_flag=True, help="Refuse a cache whose route files changed.")
@click.option("--lazy", is_flag=True, default=None,
              help="Import each route on its first request (default: lazy in config.py).")
@project_options
def run(ctx: Context, host: str | None, port: int | None, workers: int | None,
        strict: bool, lazy: bool | None) -> None:
    """Production server from the build cache (verified before a port is bound)."""
    import os

    from .asgi import ENV_LAZY, ENV_STRICT
    from .runtime.app import create_app, load_routes

    if strict:
        os.environ[ENV_STRICT] = "1"
    if lazy:
        os.environ[ENV_LAZY] = "1"
    workers = workers or ctx.config.server.workers
    # The cache is verified before a port is bound, so a broken build fails with exit 1.
    # One process serves the app built here (which, unless lazy, has imported every handler);
    # with several, each worker builds its own and this process only checks the cache.
    app = None
    if workers == 1:
        app = create_app(ctx.project, source="cache", config=ctx.config, strict=strict,
                         lazy=lazy)
    else:
        load_routes(ctx.project, ctx.config, "cache", strict)
    _serve(
        ctx, factory="fastapi_route.asgi:create_from_env",
        host=host or ctx.config.server.host or "0.0.0.0", port=port, workers=workers,
        log_level=ctx.config.logging.production_level, app=app,
    )


@main.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1, or server.host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@project_options
def dev(ctx: Context, host: str | None, port: int | None) -> None:
    """Development server: scans instead of reading the cache, reloads on changes."""
    _serve(
        ctx, factory="fastapi_route.asgi:create_dev_app",
        host=host or ctx.config.server.host or "127.0.0.1", port=port, workers=1,
        log_level=ctx.config.logging.level, reload=True,
        reload_dirs=[str(ctx.project.root)],
        # "*" as well as "*.py": a route file written into a brand-new folder can land before
        # the watcher sees the folder, so the folder's own creation must trigger the reload.
        reload_includes=["*.py", "*"],
        reload_excludes=_dev_excludes(ctx),
    )


def _dev_excludes(ctx: Context) -> list[str]:
    """What dev never reloads for: the cache, public/ (served live), bytecode, temp files."""
    excludes = [f"{ctx.config.build.cache_dir}/*", "__pycache__", "*.tmp", "*~"]
    for folder in (ctx.cache_path, ctx.project.root / ctx.config.static_dir):
        if folder.is_dir():
            excludes.append(str(folder))  # uvicorn ignores everything below an existing folder
    return excludes


@main.command()
@project_options
def routes(ctx: Context) -> None:
    """The route table in precedence order: method, URL, file:line."""
    from .pipeline.build import compile_table

    table = compile_table(ctx.project.root, ctx.config)
    width = max((len(r.path) for r in table.routes), default=4)
    echo(f"{'METHOD':<8}{'URL':<{width + 2}}FILE", bold=True)
    for r in table.routes:
        echo(f"{r.method:<8}{r.path:<{width + 2}}{r.file}:{r.line}")
    echo(f"{len(table.routes)} routes")


_INDEX = '''from fastapi_route import Request


def GET(request: Request) -> dict[str, str]:
    """The home page."""
    return {"message": "Hello from fastapi-route"}
'''

_CONFIG = '''# Settings for this project: every name is optional (see the README).
app_name = "{name}"
version = "0.1.0"
description = ""

server = {{"port": 8000}}   # dev binds 127.0.0.1, run 0.0.0.0 (add "host" to choose)
build = {{"compression_level": 6}}
'''


@main.command()
@click.argument("name", required=False)
def init(name: str | None) -> None:
    """Create a project: routes/index.py, config.py, public/, .gitignore."""
    target = Path(name) if name else Path.cwd()
    existing = [p for p in ("routes", "config.py") if (target / p).exists()]
    if existing:
        raise FastAPIRouteError(
            f"{target.resolve()} already holds {', '.join(existing)}; nothing was changed",
            "choose a new folder name: fastapi-route init NAME",
        )
    (target / "routes").mkdir(parents=True, exist_ok=True)
    (target / "public").mkdir(exist_ok=True)
    (target / "routes" / "index.py").write_text(_INDEX, encoding="utf-8")
    (target / "config.py").write_text(
        _CONFIG.format(name=target.resolve().name.replace('"', "")), encoding="utf-8"
    )
    gitignore = target / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(".cache/\n__pycache__/\n", encoding="utf-8")
    echo(f"Created a project in {target.resolve()}", fg="green")
    cd = f"cd {name} && " if name else ""
    echo(f"Next: {cd}fastapi-route dev")
