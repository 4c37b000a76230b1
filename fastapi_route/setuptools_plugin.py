"""setuptools: bake the route cache into build_lib during `build_py`, like the hatchling hook.

Switched on only by a `[tool.fastapi-route]` table in pyproject.toml:

    [tool.fastapi-route]
    project = "myapp"          # the package folder holding routes/ and config.py
    # compression-level = 9

It runs for every setuptools build in an environment where fastapi-route is installed, so it
does nothing at all without that table. Editable installs are skipped (they use the sources).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from .errors import FastAPIRouteError
from .packaging import bake, import_name
from .project import APPS_GROUP

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

TABLE = "tool.fastapi-route"


def _options(root: Path) -> dict[str, Any] | None:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    with pyproject.open("rb") as f:
        table = tomllib.load(f).get("tool", {}).get("fastapi-route")
    if table is None:
        return None
    problems = [f"{TABLE}.{k} is not an option (options: project, compression-level)"
                for k in sorted(set(table) - {"project", "compression-level"})]
    if not isinstance(table.get("project"), str) or not (root / table["project"]).is_dir():
        problems.append(f"{TABLE}.project must name the package folder holding routes/")
    level = table.get("compression-level")
    if level is not None and (isinstance(level, bool) or not isinstance(level, int)
                              or not 1 <= level <= 9):
        problems.append(f"{TABLE}.compression-level must be an integer from 1 to 9")
    if problems:
        raise FastAPIRouteError("fastapi-route configuration:\n  " + "\n  ".join(problems))
    return dict(table)


def _distribution_path(project: str, package_dir: dict[str, str] | None) -> str:
    """`src/myapp` -> `myapp` when the packages live under `src/`."""
    path = Path(project).as_posix().strip("/")
    base = (package_dir or {}).get("", "")
    if base and path.startswith(base.rstrip("/") + "/"):
        return path[len(base.rstrip("/")) + 1 :]
    return path


def finalize(dist: Any) -> None:
    """setuptools.finalize_distribution_options: install the baking build_py."""
    root = Path.cwd()
    options = _options(root)
    if options is None:
        return
    from setuptools.command.build_py import (  # type: ignore[import-untyped,unused-ignore]
        build_py as default_build_py,
    )

    project = options["project"]
    in_wheel = _distribution_path(project, dist.package_dir)
    package = import_name(in_wheel)
    level = options.get("compression-level")
    base = dist.cmdclass.get("build_py", default_build_py)

    class BakingBuildPy(base):  # type: ignore[misc,valid-type]
        def run(self) -> None:
            super().run()
            if getattr(self, "editable_mode", False):
                return
            staging = Path(tempfile.mkdtemp(prefix="fastapi-route-"))
            try:
                baked = bake(root / project, staging, in_wheel, level)
                for source, target in baked.files.items():
                    destination = Path(self.build_lib) / target
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, destination)
            except FastAPIRouteError as exc:
                raise SystemExit(f"fastapi-route: {exc}") from None
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    dist.cmdclass["build_py"] = BakingBuildPy
    # Registers the installed app so `fastapi-route run` finds it from any folder.
    entry = f"{dist.get_name()} = {package}"
    groups = dist.entry_points if isinstance(dist.entry_points, dict) else {}
    current = groups.get(APPS_GROUP, [])
    current = [current] if isinstance(current, str) else list(current)
    if entry not in current:
        groups[APPS_GROUP] = [*current, entry]
    dist.entry_points = groups
