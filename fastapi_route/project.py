"""Find the project: a directory given as a path, the current directory, or an installed app.

A project is "a directory holding routes/ and config.py". From a source checkout it is a path;
from a wheel it is the folder of an installed package, reached through importlib, and its baked
cache sits in that folder too. The runtime serves both the same way.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .conventions import CONFIG_FILE
from .errors import ProjectNotFound

# The file both build plugins (hatchling, setuptools) add to an app wheel's
# .dist-info/extra_metadata/, naming the package that holds the project. Finding installed
# apps reads it without importing any app.
APP_MARKER = "fastapi_route_app.json"


@dataclass(frozen=True)
class Project:
    root: Path  # absolute
    package: str | None = None  # the import name of root when root is a Python package
    installed: bool = False  # found through an installed distribution
    # How the search found it ("--project", "the current folder", ...): with an installed app
    # a stray routes/ in the working folder would otherwise take over unnoticed.
    found_by: str = ""

    @property
    def name(self) -> str:
        return self.package or self.root.name


def _package_name(root: Path) -> str | None:
    if (root / "__init__.py").is_file() and root.name.isidentifier():
        return root.name
    return None


def looks_like_project(folder: Path) -> bool:
    return (folder / "routes").is_dir() or (folder / CONFIG_FILE).is_file()


def project_from_pyproject(folder: Path) -> Path | None:
    """The project folder an app's pyproject.toml names for the build hook, if any."""
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return None
    # Imported here: most starts have no pyproject.toml beside the project to read.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return None
    tool = data.get("tool", {})
    hook = (
        tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
        .get("hooks", {}).get("fastapi-route")
    )
    for table in (hook, tool.get("fastapi-route")):
        if isinstance(table, dict) and isinstance(table.get("project"), str):
            candidate: Path = folder / str(table["project"])
            if candidate.is_dir():
                return candidate
    return None


def from_path(path: Path, found_by: str = "--project") -> Project:
    folder = path.resolve()
    if not folder.is_dir():
        raise ProjectNotFound(f"{path} is not a folder", "pass --project PATH to a project folder")
    if not looks_like_project(folder):
        named = project_from_pyproject(folder)
        if named is None:
            raise ProjectNotFound(
                f"{folder} holds no routes/ folder and no config.py",
                "run `fastapi-route init` to start a project, or pass --project PATH",
            )
        folder = named.resolve()
        found_by = f"{found_by}, through its pyproject.toml"
    return Project(folder, _package_name(folder), found_by=found_by)


def from_package(package: str, found_by: str = "") -> Project:
    """An importable package whose folder is the project (an installed app wheel)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ProjectNotFound(
            f"no installed package named {package!r}",
            "install the app's wheel, or pass --project PATH for a source tree",
        )
    return Project(Path(locations[0]).resolve(), package, installed=True,
                   found_by=found_by or f"installed app {package}")


def installed_apps() -> dict[str, str]:
    """Distribution name -> package, for every installed wheel built with our hook."""
    apps: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        text = dist.read_text(f"extra_metadata/{APP_MARKER}")
        if not text:
            continue
        try:
            package = json.loads(text)["package"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(package, str):
            apps[dist.metadata["Name"]] = package
    return apps


def find_project(path: Path | None = None, app: str | None = None) -> Project:
    """--project PATH, else --app NAME, else the current folder (or the folder its
    pyproject.toml names), else the one installed app. `found_by` records which."""
    if path is not None:
        return from_path(path)
    if app is not None:
        apps = installed_apps()
        return from_package(apps.get(app, app), f"--app {app}")
    cwd = Path.cwd()
    if looks_like_project(cwd) or project_from_pyproject(cwd):
        return from_path(cwd, "the current folder")
    apps = installed_apps()
    if len(apps) == 1:
        ((dist, package),) = apps.items()
        return from_package(package, f"installed app {package}, distribution {dist}")
    if apps:
        listing = ", ".join(sorted(apps))
        raise ProjectNotFound(
            f"several installed apps: {listing}", "choose one with --app NAME"
        )
    raise ProjectNotFound(
        f"no project here ({cwd} holds no routes/ folder) and no installed app",
        "cd into a project, pass --project PATH, or pip install an app wheel",
    )
