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

from fastapi_route.errors import FastAPIRouteError
from fastapi_route.packaging import bake, check_options, import_name, write_marker

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
    check_options(table, TABLE, root, project_required=True)
    return dict(table)


def _distribution_path(project: str, package_dir: dict[str, str] | None) -> str:
    """`src/myapp` -> `myapp` when the packages live under `src/`."""
    path = Path(project).as_posix().strip("/")
    base = (package_dir or {}).get("", "")
    if base and path.startswith(base.rstrip("/") + "/"):
        return path[len(base.rstrip("/")) + 1 :]
    return path


def finalize(dist: Any) -> None:
    """setuptools.finalize_distribution_options: install the baking build_py and egg_info.

    setuptools calls this before it applies pyproject.toml's [project] and [tool.setuptools]
    tables, so the distribution's name, package_dir and entry points are not known yet: the
    commands read package_dir when they run, and the installed app is registered by a marker
    file in the .egg-info (copied into the wheel's .dist-info), the same marker the hatchling
    hook writes, rather than by an entry point that pyproject.toml would overwrite.
    """
    root = Path.cwd()
    options = _options(root)
    if options is None:
        return
    from setuptools.command.build_py import (  # type: ignore[import-untyped,unused-ignore]
        build_py as default_build_py,
    )
    from setuptools.command.egg_info import (  # type: ignore[import-untyped,unused-ignore]
        egg_info as default_egg_info,
    )

    project = options["project"]
    level = options.get("compression-level")

    def in_wheel() -> str:
        return _distribution_path(project, dist.package_dir)

    class BakingBuildPy(dist.cmdclass.get("build_py", default_build_py)):  # type: ignore[misc]
        def run(self) -> None:
            super().run()
            if getattr(self, "editable_mode", False):
                return
            staging = Path(tempfile.mkdtemp(prefix="fastapi-route-"))
            try:
                baked = bake(root / project, staging, in_wheel(), level)
                for source, target in baked.files.items():
                    destination = Path(self.build_lib) / target
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, destination)
            except FastAPIRouteError as exc:
                raise SystemExit(f"fastapi-route: {exc}") from None
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    class MarkingEggInfo(dist.cmdclass.get("egg_info", default_egg_info)):  # type: ignore[misc]
        def run(self) -> None:
            super().run()
            try:
                package = import_name(in_wheel())
            except FastAPIRouteError as exc:
                raise SystemExit(f"fastapi-route: {exc}") from None
            # Registers the installed app so `fastapi-route run` finds it from any folder.
            write_marker(Path(self.egg_info) / "extra_metadata", package)

    dist.cmdclass["build_py"] = BakingBuildPy
    dist.cmdclass["egg_info"] = MarkingEggInfo
