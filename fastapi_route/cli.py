"""The `fastapi-route` command: thin click commands over the pipeline and the runtime."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from . import __version__
from .config import Config, load_config
from .console import ScanProgress, StepPrinter, block, echo, size
from .errors import BuildFailed, CacheError, FastAPIRouteError, NoBuildError
from .project import Project, find_project
from .serving import RUN_HOST

if TYPE_CHECKING:
    from .pipeline.build import DocumentMaker
    from .pipeline.manifest import Manifest

# The pipeline's modules (scan, validation, the store) are imported by the commands that use
# them: `run` is one of the starts whose time is a target (`run --lazy` against a one-route
# app), and it imports only what serving needs.

P = ParamSpec("P")
R = TypeVar("R")


class Context:
    """What every command needs: the project and its settings, found once."""

    def __init__(self, path: Path | None, app: str | None) -> None:
        self.project: Project = chosen_project(path, app)
        self.config: Config = load_config(self.project.root)

    @property
    def cache_path(self) -> Path:
        return self.project.root / self.config.build.cache_dir


def chosen_project(path: Path | None, app: str | None) -> Project:
    """--project PATH or --app NAME; without either, FASTAPI_ROUTE_PROJECT or FASTAPI_ROUTE_APP
    (a wrong one's hint names the variable); without those, the search."""
    from .asgi import project_named_by_env

    if path is None and app is None:
        named = project_named_by_env()
        if named is not None:
            return named
    return find_project(path, app)


@dataclass
class Selection:
    """The project the user named (ctx.obj): --project PATH or --app NAME, or neither."""

    path: Path | None = None
    app: str | None = None


def _select(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None and param.name is not None:
        setattr(ctx.ensure_object(Selection), param.name, value)


# Declared once, on the root group, which parses them for every command; eager, so that
# `--help` already knows the project whose custom commands it lists.
PROJECT_OPTIONS = (
    click.Option(
        ["--project", "path"], type=click.Path(path_type=Path), metavar="PATH",
        expose_value=False, is_eager=True, callback=_select,
        help="Project folder (holding routes/ and config.py). Default: the current folder, "
        "else the one installed app.",
    ),
    click.Option(
        ["--app"], metavar="NAME", expose_value=False, is_eager=True, callback=_select,
        help="An installed app, by distribution or package name.",
    ),
)
_PROJECT_FLAGS = ("--project", "--app")


def _project_options_first(args: list[str]) -> list[str]:
    """`args` with each --project/--app and its value moved to the front, where the root group
    parses them: written before or after the command's name, they mean the same."""
    front: list[str] = []
    rest: list[str] = []
    tokens = iter(args)
    for arg in tokens:
        if arg == "--":  # what follows is arguments, not options
            rest += [arg, *tokens]
        elif arg in _PROJECT_FLAGS:
            value = next(tokens, None)
            if value is None:  # moved to the front, it would take the command's name
                raise click.BadOptionUsage(arg, f"Option '{arg}' requires an argument.")
            front += [arg, value]
        elif arg.partition("=")[0] in _PROJECT_FLAGS:
            front.append(arg)
        else:
            rest.append(arg)
    return front + rest


def pass_project(func: Callable[Concatenate[Context, P], R]) -> Callable[P, R]:
    """Calls the command with the project --project/--app named, or the search found."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        selection = click.get_current_context().find_object(Selection) or Selection()
        return func(Context(selection.path, selection.app), *args, **kwargs)

    return wrapper


class ProjectCommand(click.Command):
    """A command whose help lists --project and --app too (the root group parses them)."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        records = [r for o in PROJECT_OPTIONS if (r := o.get_help_record(ctx)) is not None]
        with formatter.section("Project options (before or after the command's name)"):
            formatter.write_dl(records)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def expand(command: str, config: Config) -> str:
    """Substitute `{server.port}`, `{app_name}`, ... from the settings."""
    # A placeholder stands for what `run` would use: an unset host is the address it binds.
    config = replace(config, server=replace(config.server, host=config.server.host or RUN_HOST))

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
    @click.command(name=name, cls=ProjectCommand, help=f"Custom command from config.py: {command}")
    @pass_project
    def custom(ctx: Context) -> None:
        line = expand(command, ctx.config)
        echo(f"$ {line}", bold=True)
        sys.exit(subprocess.call(line, shell=True, cwd=ctx.project.root))

    return custom


@contextlib.contextmanager
def _usage_errors_exit_1() -> Iterator[None]:
    """Every failure exits 1 (click gives a usage error 2), with click's message."""
    try:
        yield
    except click.UsageError as exc:
        exc.exit_code = 1  # type: ignore[misc]
        raise


class FastAPIRouteGroup(click.Group):
    """Turns every user mistake into a message and exit code 1, never a traceback; adds the
    project's `commands` from config.py as subcommands."""

    command_class = ProjectCommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _project_options_first(args))

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _usage_errors_exit_1():  # `fastapi-route --bogus` fails here, before invoke
            return super().make_context(info_name, args, parent, **extra)

    def _custom(self, ctx: click.Context) -> dict[str, str]:
        """The commands of the chosen project's config.py (read once per invocation)."""
        key = "fastapi_route.custom_commands"
        if key not in ctx.meta:
            selection = ctx.find_object(Selection) or Selection()
            try:
                project = chosen_project(selection.path, selection.app)
                ctx.meta[key] = dict(load_config(project.root).commands)
            except FastAPIRouteError:
                ctx.meta[key] = {}  # no project here (or a broken one): the built-in commands
        commands: dict[str, str] = ctx.meta[key]
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *sorted(self._custom(ctx))]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        custom = self._custom(ctx)
        return _custom_command(cmd_name, custom[cmd_name]) if cmd_name in custom else None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _usage_errors_exit_1():
                return super().invoke(ctx)
        except BuildFailed as exc:
            echo(str(exc), err=True, fg="red")
            sys.exit(1)
        except FastAPIRouteError as exc:
            echo(f"Error: {exc}", err=True, fg="red")
            sys.exit(1)


@click.group(
    cls=FastAPIRouteGroup, params=list(PROJECT_OPTIONS),  # a copy: click appends to it
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="fastapi-route")
def main() -> None:
    """File-based routing for FastAPI, with a build step.

    --project PATH or --app NAME, before or after the command's name, chooses the project;
    without them it is the current folder (or the folder its pyproject.toml names), else the
    one installed app.
    """


@main.command()
@click.option("--force", is_flag=True, help="Delete the cache folder before building.")
@click.option(
    "--compression", type=click.IntRange(1, 9), default=None,
    help="zlib level 1-9 (default: build.compression_level in config.py, else 6).",
)
@pass_project
def build(ctx: Context, force: bool, compression: int | None) -> None:
    """Scan, validate, compress and save the route table to the cache."""
    from .pipeline.build import build as run_build

    if ctx.project.installed:
        raise FastAPIRouteError(
            f"{ctx.project.name} is an installed app; its wheel already carries its cache",
            "build from the app's source tree (--project PATH)",
        )
    config = ctx.config if compression is None else ctx.config.with_build(
        compression_level=compression
    )
    echo(f"Building {ctx.project.name} ({ctx.project.root})", bold=True)
    # the configuration, then build()'s four steps (five with the document) as they end
    step = StepPrinter(total=6 if config.build.openapi else 5)
    step("Loaded configuration",
         "config.py" if (ctx.project.root / "config.py").is_file() else "defaults")
    progress = ScanProgress(sys.stdout)
    try:
        result = run_build(ctx.project.root, config, force=force, on_step=step,
                           on_file=progress, make_document=_document_maker(config))
    finally:
        progress.close()  # a scan that failed half-way leaves no bar open
    table, manifest = result.table, result.manifest
    for warning in table.warnings:
        echo(warning.render(), fg="yellow")
    echo()
    block(
        "BUILD SUMMARY",
        [
            *_totals(manifest, result.cache_path),
            ("Compression ratio", f"{manifest.compression_ratio}x "
             f"({size(manifest.original_size)} -> {size(manifest.compressed_size)})"),
            ("Build time", f"{result.seconds:.3f} s"),
            ("Cache path", result.cache_path),
        ],
    )
    echo("Build succeeded.", fg="green")


def _document_maker(config: Config) -> DocumentMaker | None:
    """The child process that makes the OpenAPI document, when build.openapi asks for it."""
    if not config.build.openapi:
        return None
    from .openapi_child import for_build

    return for_build


def _totals(manifest: Manifest, cache: Path) -> list[tuple[str, object]]:
    """The rows BUILD SUMMARY and BUILD STATUS share."""
    from .pipeline import store

    return [("Total routes", manifest.total_routes), ("Static routes", manifest.static_routes),
            ("Dynamic routes", manifest.dynamic_routes), ("Cache size", size(store.size(cache)))]


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_project
def status(ctx: Context, as_json: bool) -> None:
    """Show the build cache; exit 1 when there is no valid build."""
    from .pipeline import baked_openapi, freshness, store
    from .pipeline import cache as cache_io

    if not as_json:
        _say_project(ctx.project)
    try:
        cache = cache_io.load(ctx.cache_path, ctx.config.route_dir)
    except CacheError as exc:
        state = "Not built" if isinstance(exc, NoBuildError) else "Invalid"
        if as_json:
            click.echo(json.dumps({"status": state, "valid": False, "error": exc.message,
                                   "cache_path": str(ctx.cache_path), **_where(ctx.project)},
                                  indent=2))
        else:
            block("BUILD STATUS", [("Status", state), ("Cache path", ctx.cache_path)])
            echo(f"Error: {exc}", err=True, fg="red")
        sys.exit(1)
    stale = freshness.check(ctx.project.root, ctx.config, cache)
    manifest = cache.manifest
    document = baked_openapi.describe(ctx.project.root, ctx.cache_path, manifest, stale,
                                      ctx.config.pages(docs_page=False).openapi_url)
    if as_json:
        click.echo(json.dumps(
            # per-file records (digests, stamps) are the stale check's, not a status
            {**{k: v for k, v in manifest.to_dict().items() if k not in ("digests", "stamps")},
             "status": "Built", "valid": True,
             "cache_path": str(ctx.cache_path), "cache_size": store.size(ctx.cache_path),
             "stale": stale.stale, "stale_reason": stale.describe(),
             "stale_files": stale.as_dict(), "openapi": document, **_where(ctx.project)},
            indent=2, sort_keys=True))
        return
    block(
        "BUILD STATUS",
        [
            ("Status", "Built"),
            ("Created", manifest.created_at),
            *_totals(manifest, ctx.cache_path),
            ("Compression", f"level {manifest.compression_level}, "
             f"ratio {manifest.compression_ratio}x"),
            ("Version", manifest.fastapi_route_version),
            ("Cache path", ctx.cache_path),
            ("Stale", f"yes - {stale.describe()}" if stale.stale else "no"),
            ("OpenAPI", _describe_document(document, ctx.config.build.openapi)),
        ],
    )
    if stale.stale:
        echo("The routes changed since the build: run 'fastapi-route build'.", fg="yellow")


def _describe_document(document: dict[str, Any], wanted: bool) -> str:
    if document["state"] == "absent":
        return ("not made at build: config.py sets build.openapi, run 'fastapi-route build'"
                if wanted else "not made at build (build.openapi)")
    if document["state"] == "fits":
        return f"made at build, fits ({size(document['size'])}, served as is)"
    return f"made at build, {document['state']} - {document['reason']} (made at runtime)"


@main.command()
@pass_project
def clean(ctx: Context) -> None:
    """Delete the cache folder."""
    from .pipeline import store

    if ctx.project.installed:
        raise FastAPIRouteError(
            f"{ctx.project.name} is an installed app; its cache belongs to the wheel",
            "uninstall or reinstall the app instead",
        )
    if not ctx.cache_path.exists():
        echo(f"Nothing to clean: {ctx.cache_path} does not exist.")
        return
    kept = store.remove(ctx.cache_path)
    if kept:
        echo(f"Removed the build files; kept {', '.join(kept)} in {ctx.cache_path} "
             "(not written by fastapi-route).", fg="yellow")
    else:
        echo(f"Removed {ctx.cache_path}.", fg="green")


def _where(project: Project) -> dict[str, str]:
    return {"project": str(project.root), "found_by": project.found_by}


def _say_project(project: Project) -> None:
    """Which project was chosen, and how: with an installed app, a stray routes/ or config.py
    in the working folder would otherwise take over unnoticed."""
    how = f" ({project.found_by})" if project.found_by else ""
    echo(f"Project: {project.root}{how}")


@main.command()
@click.option("--host", default=None, help="Bind address (default 0.0.0.0, or server.host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@click.option("--workers", type=click.IntRange(1, 512), default=None, help="Worker processes.")
@click.option("--strict", is_flag=True,
              help="Refuse a cache whose route files changed (default: FASTAPI_ROUTE_STRICT).")
@click.option("--eager", is_flag=True, default=False,
              help="Register every route with FastAPI before the port is bound.")
@click.option("--lazy", is_flag=True, default=None,
              help="Import each route on its first request (default: FASTAPI_ROUTE_SCHEDULE, "
              "else lazy in config.py).")
@pass_project
def run(ctx: Context, host: str | None, port: int | None, workers: int | None,
        strict: bool, eager: bool, lazy: bool | None) -> None:
    """Production server from the build cache (verified, and every route file imported,
    before a port is bound; routes are registered on first use or by a warm-up)."""
    from .asgi import schedule_from_env, strict_from_env
    from .serving import ProductionServer

    if eager and lazy:
        raise click.UsageError("--eager and --lazy are two different schedules: choose one")
    # A flag wins; without one, the variable (a bad value is an error, exit 1).
    schedule = "eager" if eager else "lazy" if lazy else schedule_from_env()
    strict = strict or strict_from_env()
    _say_project(ctx.project)
    server = ProductionServer(ctx.project, ctx.config, host=host, port=port, workers=workers,
                              strict=strict, schedule=schedule)  # type: ignore[arg-type]
    echo(f"Serving {ctx.project.name} on {server.url}", bold=True)
    ended = server.serve()
    if ended.error is not None:
        echo(f"Error: {ended.error}", err=True, fg="red")
    sys.exit(ended.exit_code)


@main.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1, or server.host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@pass_project
def dev(ctx: Context, host: str | None, port: int | None) -> None:
    """Development server: scans instead of reading the cache; a change under routes/ is
    swapped into the running app, any other project file restarts it."""
    from .runtime.devserver import serve
    from .serving import dev_settings

    _say_project(ctx.project)
    settings = dev_settings(ctx.config, host, port)
    echo(f"Serving {ctx.project.name} on http://{settings['host']}:{settings['port']} "
         "(dev: reloads on changes)", bold=True)
    serve(ctx.project, ctx.config, settings)


@main.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print the table as JSON (params with their types, operation ids); with "
              "--profile, the whole profile.")
@click.option("--tree", "as_tree", is_flag=True,
              help="Print the URL tree, groups and layouts marked.")
@click.option("--profile", "as_profile", is_flag=True,
              help="Time the start instead: each route file's import and each route's "
              "registration with FastAPI, slowest first (runs the app's code).")
@click.option("--top", type=click.IntRange(1), default=None, metavar="N",
              help="With --profile: the N slowest of each kind (default 20).")
@click.option("--scan", is_flag=True,
              help="With --profile: scan the tree instead of reading the cache.")
@pass_project
def routes(ctx: Context, as_json: bool, as_tree: bool, as_profile: bool, top: int | None,
           scan: bool) -> None:
    """The route table in precedence order: method (WS: websocket), URL, file:line, and the
    folders whose _layout.py applies, outermost first.

    With --profile, where the app's start goes: a child process makes the app as `run` does
    (from the cache, or --scan), which runs the app's code, timing each route file's import
    and each route's registration with FastAPI; printed slowest first, each with its share of
    the whole. Exit 1, naming the file, when a file cannot be imported.
    """
    from . import routeview
    from .pipeline.build import compile_table

    if as_json and as_tree:
        raise click.UsageError("--json and --tree are two different views: choose one")
    if as_profile:
        if as_tree:
            raise click.UsageError("--profile and --tree are two different views: choose one")
        from . import profiling
        from .openapi_child import profile

        found = profile(ctx.project, source="scan" if scan else "cache")
        click.echo(profiling.to_json(found) if as_json
                   else profiling.render(found, top or profiling.TOP))
        return
    if top is not None or scan:
        raise click.UsageError("--top and --scan go with --profile (the table is always "
                               "scanned)")
    table = compile_table(ctx.project.root, ctx.config)
    if as_json:
        click.echo(routeview.to_json(table.routes))
        return
    if as_tree:
        encoding = getattr(sys.stdout, "encoding", None)  # ASCII lines where boxes won't do
        click.echo(routeview.render_tree(table.routes, ctx.config.route_dir,
                                         encoding=encoding))
        return
    width = max((len(r.path) for r in table.routes), default=4)
    files = [f"{r.file}:{r.line}" for r in table.routes]
    file_width = max(map(len, files), default=4)
    echo(f"{'METHOD':<8}{'URL':<{width + 2}}{'FILE':<{file_width + 2}}LAYOUTS", bold=True)
    for r, file in zip(table.routes, files, strict=True):
        layouts = ", ".join(layout.rsplit("/", 1)[0] + "/" for layout in r.layouts)
        echo(f"{r.label:<8}{r.path:<{width + 2}}{file:<{file_width + 2}}{layouts}".rstrip())
    echo(f"{len(table.routes)} routes")


@main.command()
@click.argument("method")
@click.argument("url")
@click.option("--scan", is_flag=True, help="Scan the tree instead of reading the cache.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@pass_project
def explain(ctx: Context, method: str, url: str, scan: bool, as_json: bool) -> None:
    """Which route answers METHOD URL (file:line) and why, segment by segment; the routes
    that also match and lose; layouts, middleware, dependencies and where each handler
    parameter comes from; or the 405, redirect, public/ file or 404 that answers instead.

    A development tool: it imports app.py, middleware.py, the layouts and the route files
    whose URL matches (as a request would), and runs no handler. Exit 0 whatever answers (a
    route FastAPI refuses answers 500, and the explanation says why); exit 1 when a file the
    answer needs cannot be imported.
    """
    from . import explain as explaining

    found = explaining.explain(ctx.project, method, url, config=ctx.config,
                               source="scan" if scan else "cache")
    click.echo(explaining.to_json(found) if as_json else explaining.render(found))


@main.command()
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              default=None, metavar="FILE", help="Write the document to FILE.")
@click.option("--scan", is_flag=True, help="Scan the tree instead of reading the cache.")
@pass_project
def openapi(ctx: Context, output: Path | None, scan: bool) -> None:
    """Print the OpenAPI document the app serves at its openapi_url (bytes as served).

    The one command that runs the app's code: a child process makes the app as `run` does
    (from the cache, or --scan), app.py's configure included, and asks it for its document.
    Exit 1, naming the file, when a file cannot be imported.
    """
    from .openapi_child import make

    document = make(ctx.project, source="scan" if scan else "cache")
    if output is None:
        click.echo(document.served, nl=False)
        return
    try:
        output.write_bytes(document.served)
    except OSError as exc:
        raise FastAPIRouteError(f"cannot write {output}: {exc.strerror or exc}",
                                "choose a file in a folder you can write") from None
    echo(f"Wrote the OpenAPI document to {output} ({size(len(document.served))})",
         err=True, fg="green")


@main.command()
@click.argument("name", required=False)
def init(name: str | None) -> None:
    """Create a project: routes/index.py, config.py, public/, .gitignore.

    In the folder NAME (or --project PATH); default: the current folder.
    """
    selection = click.get_current_context().find_object(Selection) or Selection()
    if selection.app is not None:
        raise FastAPIRouteError(
            f"init creates a project folder; --app {selection.app} names an installed app",
            "fastapi-route init NAME, or fastapi-route init --project PATH",
        )
    if name is not None and selection.path is not None:
        raise FastAPIRouteError(
            f"init was given both a NAME ({name}) and --project ({selection.path})",
            "name the new folder once: fastapi-route init NAME, or --project PATH",
        )
    folder = name if name is not None else selection.path
    from .scaffold import create_project

    created = create_project(Path(folder) if folder is not None else Path.cwd())
    echo(f"Created a project in {created}", fg="green")
    cd = f"cd {folder} && " if folder is not None else ""
    echo(f"Next: {cd}fastapi-route dev")
