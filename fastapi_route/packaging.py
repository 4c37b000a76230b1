"""What the build backends share: which folder of an app is the project, and baking its
cache into a staging folder for a wheel. Used by the hatchling hook and the setuptools plugin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .config import load_config
from .errors import FastAPIRouteError
from .openapi_child import for_build
from .pipeline import store
from .pipeline.build import BuildResult, build
from .project import APP_MARKER, looks_like_project

OPTIONS = ("project", "compression-level")


def check_options(
    table: dict[str, Any], where: str, root: Path, *, ignore: frozenset[str] = frozenset(),
    project_required: bool = False,
) -> tuple[str | None, int | None]:
    """The build plugins' options (`project`, `compression-level`) from the TOML table at
    `where`; every problem at once, each naming its full TOML path."""
    problems = [f"{where}.{key} is not an option (options: {', '.join(OPTIONS)})"
                for key in sorted(set(table) - set(OPTIONS) - ignore)]
    project = table.get("project")
    level = table.get("compression-level")
    if project is None:
        if project_required:
            problems.append(f"{where}.project must name the package folder holding routes/")
    elif not isinstance(project, str) or not project:
        problems.append(f"{where}.project must be a folder path relative to pyproject.toml")
    elif not (root / project).is_dir():
        problems.append(f"{where}.project: {project!r} is not a folder")
    elif not (root / project).resolve().is_relative_to(root.resolve()):
        problems.append(f"{where}.project: {project!r} is outside the folder of pyproject.toml")
    if level is not None and (
        isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 9
    ):
        problems.append(f"{where}.compression-level must be an integer from 1 to 9, "
                        f"got {level!r}")
    if problems:
        raise PackagingError("fastapi-route configuration:\n  " + "\n  ".join(problems))
    return project, level


def write_marker(folder: Path, package: str) -> Path:
    """The installed-app marker a wheel's .dist-info/extra_metadata/ carries."""
    marker = folder / APP_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"package": package}, sort_keys=True) + "\n", encoding="utf-8")
    return marker


class PackagingError(FastAPIRouteError):
    """The hook cannot tell which folder to bake, or it is not inside a package."""


def find_app_folder(root: Path, candidates: list[str]) -> str:
    """The one folder among `candidates` (relative paths) that holds a project."""
    found = [c for c in candidates if looks_like_project(root / c)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise PackagingError(
            "no package of this distribution holds a routes/ folder or config.py",
            "set `project = \"path/to/package\"` in the fastapi-route hook table",
        )
    raise PackagingError(
        "several packages hold a project: " + ", ".join(found),
        "choose one with `project = \"...\"` in the fastapi-route hook table",
    )


def package_candidates(root: Path) -> list[str]:
    """Top-level and src/ folders that are Python packages."""
    found = []
    for base in (root, root / "src"):
        if base.is_dir():
            for child in sorted(base.iterdir()):
                if child.is_dir() and (child / "__init__.py").is_file():
                    found.append(child.relative_to(root).as_posix())
    return found


def import_name(distribution_path: str) -> str:
    """The import name of the folder at `distribution_path` inside the wheel."""
    parts = PurePosixPath(distribution_path).parts
    if not parts or not all(p.isidentifier() for p in parts):
        raise PackagingError(
            f"the project folder lands at {distribution_path or 'the wheel root'!r} in the "
            "wheel, which is not an importable package",
            "put routes/ and config.py inside your package (e.g. myapp/routes/)",
        )
    return ".".join(parts)


@dataclass(frozen=True)
class Baked:
    result: BuildResult
    files: dict[str, str]  # staged file -> path inside the wheel
    marker: Path  # the installed-app marker for the .dist-info


def bake(project_dir: Path, staging: Path, distribution_path: str,
         compression_level: int | None = None) -> Baked:
    """Run the pipeline on the project and stage its cache for the wheel.

    Raises BuildFailed with every problem, exactly as `fastapi-route build` reports them.
    """
    package = import_name(distribution_path)
    config = load_config(project_dir)
    if compression_level is not None:
        config = config.with_build(compression_level=compression_level)
    # build.openapi: the document too, made by the app's code in a child process (this
    # environment must hold the app's dependencies: the error says so when one is missing)
    result = build(project_dir, config, into=staging / "cache",
                   make_document=for_build if config.build.openapi else None)
    cache_in_wheel = f"{distribution_path}/{config.build.cache_dir}"
    files = {
        str(result.cache_path / name): f"{cache_in_wheel}/{name}"
        for name in store.OUR_FILES if (result.cache_path / name).is_file()
    }
    return Baked(result, files, write_marker(staging, package))
