"""The hatchling build hook: the same pipeline as `fastapi-route build`, baked into the wheel.

Only standard wheels are baked: an sdist carries the sources (a wheel built from it bakes its
own cache), and an editable install points at the source tree, where `dev` and `build` work.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

from fastapi_route.errors import FastAPIRouteError
from fastapi_route.packaging import bake, check_options, find_app_folder, package_candidates

TABLE = "tool.hatch.build.targets.wheel.hooks.fastapi-route"
# Keys hatchling itself reads from every hook table.
HATCH_KEYS = frozenset({"dependencies", "require-runtime-dependencies",
                        "require-runtime-features", "enable-by-default"})


class FastAPIRouteBuildError(Exception):
    """The app's routes failed validation, or the hook is misconfigured."""


class FastAPIRouteBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "fastapi-route"

    _staging: str | None = None

    def _options(self) -> tuple[str | None, int | None]:
        try:
            return check_options(self.config, TABLE, Path(self.root), ignore=HATCH_KEYS)
        except FastAPIRouteError as exc:
            raise FastAPIRouteBuildError(str(exc)) from None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        project, level = self._options()
        root = Path(self.root)
        try:
            folder = project or find_app_folder(root, self._candidates(root))
            relative = (root / folder).resolve().relative_to(root.resolve()).as_posix()
            self._staging = tempfile.mkdtemp(prefix="fastapi-route-")
            baked = bake(root / relative, Path(self._staging),
                         self.build_config.get_distribution_path(relative), level)
        except FastAPIRouteError as exc:
            self._cleanup()
            raise FastAPIRouteBuildError(f"fastapi-route: {exc}") from None
        except BaseException:
            self._cleanup()
            raise
        build_data["force_include"].update(baked.files)
        build_data["extra_metadata"][str(baked.marker)] = baked.marker.name
        manifest = baked.result.manifest
        self.app.display_info(
            f"fastapi-route: baked {manifest.total_routes} routes from {relative}/ "
            f"({manifest.compressed_size} bytes, level {manifest.compression_level})"
        )

    def _candidates(self, root: Path) -> list[str]:
        packages = list(self.build_config.packages)
        return [p.rstrip("/") for p in packages] if packages else package_candidates(root)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
