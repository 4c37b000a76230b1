"""The `fastapi-route` command: thin click commands over the pipeline and the runtime."""

from __future__ import annotations

import functools
import json
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
        return func(Context(project_path, app), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class FastAPIRouteGroup(click.Group):
    """Turns every user mistake into a message and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BuildFailed as exc:
            echo(str(exc), err=True, fg="red")
            sys.exit(1)
        except FastAPIRouteError as exc:
            echo(f"Error: {exc}", err=True, fg="red")
            sys.exit(1)


@click.group(cls=FastAPIRouteGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fastapi-route")
def main() -> None:
    """File-based routing for FastAPI, with a build step."""


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
        cache = cache_io.load(ctx.cache_path)
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
