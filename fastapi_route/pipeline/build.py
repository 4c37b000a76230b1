"""The orchestration every caller shares: the CLI's `build`, the hook's wheel bake, `dev`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import BuildFailed, Problem, errors_only
from ..table import Route
from . import cache as cache_io
from .scan import scan
from .validate import validate


@dataclass
class Table:
    """A validated route table, with the facts the cache records about its tree."""

    routes: list[Route]
    route_files: list[str]
    warnings: list[Problem] = field(default_factory=list)


def compile_table(root: Path, config: Config) -> Table:
    """Scan and validate; raise BuildFailed with every problem when there is an error."""
    scanned = scan(root, config)
    routes, problems = validate(scanned, config)
    if errors_only(problems):
        raise BuildFailed(problems)
    return Table(routes, sorted(f.file for f in scanned.files), problems)


@dataclass
class BuildResult:
    table: Table
    manifest: dict[str, Any]
    cache_path: Path
    seconds: float


def build(
    root: Path, config: Config, *, force: bool = False, into: Path | None = None
) -> BuildResult:
    """Compile the table and save the cache into `into` (default: the project's cache_dir).

    Nothing is touched until validation passes, so a failed build keeps the previous cache.
    """
    started = time.perf_counter()
    table = compile_table(root, config)
    level = config.build.compression_level
    data, original_size = cache_io.encode(table.routes, level)
    manifest = cache_io.make_manifest(
        table.routes, table.route_files, data, original_size, level,
        cache_dir=config.build.cache_dir, route_dir=config.route_dir,
    )
    target = into if into is not None else root / config.build.cache_dir
    path = cache_io.save(target, data, manifest, force=force)
    return BuildResult(table, manifest, path, time.perf_counter() - started)
