"""`fastapi-route routes --profile` (SPEC 14.4): where the app's start goes, file by file and
route by route.

`measure` runs in the child process `openapi_child` starts (it runs the app's code). It makes
the app as `run` does by default, with `create_app` and the `warm` schedule: app.py and
middleware.py, then every layout and route file imported by `ProjectModules`, layouts before
the files below them; then it registers every route with the Registrar the warm-up uses (the
stand-in's own `registrar.add`), timing each. Each project file's import is timed by the
watch `runtime.modules` calls around it (`IMPORT_WATCH`): its own time, without the project
files it made the runtime import meanwhile, nor the garbage collections (a step of their own:
a collection walks what every file made). A module two files import (a helper, a library) is
charged to the first. The framework (FastAPI, pydantic, our runtime) is imported and timed
first, so no file pays for it.

`render` and the JSON are the parent's: what the child measured, slowest first, each with its
share of the whole (every step measured: the shares add up to 100).
"""

from __future__ import annotations

import contextlib
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .config import Config
from .conventions import APP_FILE, LAYOUT_FILE, MIDDLEWARE_FILE
from .project import Project

TOP = 20  # rows of each kind the text shows unless --top says
# Steps of the start, as the JSON names them, and how the text says them.
STEPS = {
    "framework": "framework imports (FastAPI, pydantic, fastapi-route's runtime)",
    "create_app": "create_app: the route table ({source}), FastAPI(...), stand-ins",
    "project_files": "app.py, middleware.py, layouts and other project files imported",
    "route_files": "route files imported",
    "registration": "routes registered with FastAPI",
    "collections": "garbage collections meanwhile (charged to no file or route)",
}


class Collections:
    """The time the garbage collector takes, from `gc.callbacks`: a collection is charged to
    none of the files or routes it interrupts (it walks what all of them made), but to a step
    of its own."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    @contextlib.contextmanager
    def counted(self) -> Iterator[None]:
        gc.callbacks.append(self)
        try:
            yield
        finally:
            gc.callbacks.remove(self)


class Clock:
    """Times what it is called around, by key: its own time (without the timed calls inside
    it, nor the garbage collections), and the names it added to sys.modules (a dict keeps its
    order: new names are at the end). As `runtime.modules.IMPORT_WATCH` it times each project
    file `ProjectModules` imports, keyed by its path; here, each route's registration."""

    def __init__(self, collections: Collections, own_modules: int) -> None:
        self.collections = collections
        self.own_modules = own_modules  # what each call adds of its own (a file: its module)
        self.times: dict[Any, tuple[float, list[str]]] = {}
        # per call under way: the time of the timed calls inside it, with their collections
        self._inner: list[float] = []

    @contextlib.contextmanager
    def __call__(self, key: Any) -> Iterator[None]:
        known = len(sys.modules)
        self._inner.append(0.0)
        collected = self.collections.seconds
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            inner = self._inner.pop()
            if self._inner:
                self._inner[-1] += spent
            # the collections inside the timed calls are inside `inner` too: counted once
            collections = self.collections.seconds - collected
            own = max(spent - inner - collections, 0.0)
            # more than its own: one list of sys.modules
            added = (list(sys.modules)[known:]
                     if len(sys.modules) > known + self.own_modules else [])
            self.times[key] = (own, added)


def _libraries(added: list[str], project: str) -> dict[str, Any]:
    """Of the modules a file's import (or a route's registration) added, those not the
    project's (`project`: its package): how many, and the libraries (top-level packages)
    among them, which it was the first to import."""
    names = [name for name in added if name.partition(".")[0] != project]
    # A module is moved to the end of sys.modules once it has run (importlib does), so the
    # last is what the file itself imported: listed first, then what that one pulled in.
    return {"modules": len(names), "libraries": [n for n in reversed(names) if "." not in n]}


def _helpers(added: list[str], project: Project, package: str, timed: set[str]) -> list[str]:
    """Of the modules a file's import (or a route's registration) added, the project's own
    helpers (`errors.py`, `models/user.py`: files no row is timed for), by path, what it
    imported itself first: their time is the file's, so the row names them."""
    found = []
    for name in reversed(added):
        if name.partition(".")[0] != package:
            continue
        file = getattr(sys.modules.get(name), "__file__", None)
        if not file:
            continue
        try:
            rel = Path(file).resolve().relative_to(project.root.resolve()).as_posix()
        except ValueError:
            continue
        if rel not in timed:
            found.append(rel)
    return found


def _warm_framework() -> None:
    """FastAPI and pydantic imported, and what they import on first use (pydantic.v1 at the
    first route FastAPI registers): the framework's, which no file or route should pay for."""
    from fastapi import FastAPI
    from pydantic import BaseModel

    class Item(BaseModel):
        name: str

    def endpoint(item: Item) -> Item:
        return item

    FastAPI().add_api_route("/", endpoint, methods=["POST"])


def measure(project: Project, source: str, config: Config) -> dict[str, Any]:
    """The profile of the project's start: every step timed, in the process that runs it."""
    started = time.perf_counter()
    _warm_framework()  # before any project file: no file pays for it
    from .runtime import modules
    from .runtime.app import create_app, runtime_of

    framework = time.perf_counter() - started
    collections = Collections()
    imports = Clock(collections, own_modules=1)
    modules.IMPORT_WATCH = imports
    try:
        with collections.counted():
            started = time.perf_counter()
            app = create_app(project, source="scan" if source == "scan" else "cache",
                             config=config, schedule="warm")
            made = time.perf_counter() - started
    finally:
        modules.IMPORT_WATCH = None
    collected = collections.seconds
    file_routes = runtime_of(app).file_routes
    package = file_routes.modules.base.partition(".")[0]  # the project's modules
    registrations = Clock(collections, own_modules=0)
    kept = []  # the routes made stay alive, as they do in the app
    with collections.counted():
        for i, lazy in enumerate(file_routes.lazy):
            with registrations(i):  # raises what the warm-up would stop the server on
                kept.append(lazy.registrar.add(lazy.record))
    timed = set(imports.times)
    routes = [{"method": r.method, "label": r.label, "path": r.path, "file": r.file,
               "line": r.line, "order": i, "seconds": registrations.times[i][0],
               **_libraries(registrations.times[i][1], package),
               "helpers": _helpers(registrations.times[i][1], project, package, timed)}
              for i, r in enumerate(lazy.record for lazy in file_routes.lazy)]
    route_files = {r.file for r in file_routes.table}
    layouts = {f for r in file_routes.table for f in r.layouts}
    counts: dict[str, int] = {}
    for r in file_routes.table:
        counts[r.file] = counts.get(r.file, 0) + 1
    # `order`: when the import ended (a file imported inside another ends first)
    files = [{"file": rel, "kind": _kind(rel, route_files, layouts), "order": i,
              "seconds": seconds, "routes": counts.get(rel, 0), **_libraries(added, package),
              "helpers": _helpers(added, project, package, timed)}
             for i, (rel, (seconds, added)) in enumerate(imports.times.items())]
    own = sum(f["seconds"] for f in files if f["kind"] != "route")
    imported = sum(f["seconds"] for f in files if f["kind"] == "route")
    steps = {
        "framework": framework,
        # what is neither a project file's import nor a collection
        "create_app": max(made - own - imported - collected, 0.0),
        "project_files": own,
        "route_files": imported,
        "registration": sum(r["seconds"] for r in routes),
        "collections": collections.seconds,
    }
    return _shares(project, source, steps, files, routes)


def _kind(rel: str, route_files: set[str], layouts: set[str]) -> str:
    if rel in route_files:
        return "route"
    if rel in layouts or rel.endswith("/" + LAYOUT_FILE):
        return "layout"
    if rel == APP_FILE:
        return "app"
    if rel == MIDDLEWARE_FILE:
        return "middleware"
    return "other"


def _shares(project: Project, source: str, steps: dict[str, float],
            files: list[dict[str, Any]], routes: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure with its share of the whole (percent), slowest first."""
    total = sum(steps.values()) or 1e-9

    def share(seconds: float) -> float:
        return round(100 * seconds / total, 3)

    for item in (*files, *routes):
        item["share"] = share(item["seconds"])
        item["seconds"] = round(item["seconds"], 6)
    return {
        "project": str(project.root), "name": project.name, "source": source,
        "total_seconds": round(total, 6),
        "steps": [{"step": name, "seconds": round(seconds, 6), "share": share(seconds)}
                  for name, seconds in steps.items()],
        "files": sorted(files, key=lambda f: -f["seconds"]),
        "routes": sorted(routes, key=lambda r: -r["seconds"]),
    }


# --- the parent: the report --------------------------------------------------------------------


def to_json(profile: dict[str, Any]) -> str:
    return json.dumps(profile, indent=2)


def render(profile: dict[str, Any], top: int) -> str:
    """The text report: the steps, then the slowest `top` route files, other project files and
    routes."""
    route_files = [f for f in profile["files"] if f["kind"] == "route"]
    others = [f for f in profile["files"] if f["kind"] != "route"]
    routes = profile["routes"]
    lines = [f"Start-up profile of {profile['name']} ({profile['source']}): "
             f"{len(route_files)} route files, {len(routes)} routes, "
             f"{profile['total_seconds']:.3f} s in all", ""]
    counted = {"route_files": len(route_files), "registration": len(routes)}
    for step in profile["steps"]:
        what = STEPS[step["step"]].format(source=profile["source"])
        if step["step"] in counted:
            what = f"{counted[step['step']]} {what}"
        lines.append(f"  {step['seconds']:8.3f} s {step['share']:6.1f}%  {what}")

    def section(title: str, items: list[dict[str, Any]], head: str,
                row: Callable[[dict[str, Any]], str]) -> None:
        if not items:
            return
        shown = items[:top]
        median = statistics.median(item["seconds"] for item in items)
        lines.extend(["", f"{title} ({len(shown)} of {len(items)}, slowest first; "
                      f"median {median * 1000:.2f} ms):",
                      f"  {'SECONDS':>9} {'SHARE':>7}  {head}"])
        lines.extend(f"  {item['seconds']:9.4f} {item['share']:6.2f}%  {row(item)}".rstrip()
                     for item in shown)

    def pulled(item: dict[str, Any]) -> str:
        """What the import (or registration) imported first, if anything: the project's
        helpers (their time is its), then how many other modules and their libraries."""
        helpers = item["helpers"][:4] + (["..."] if len(item["helpers"]) > 4 else [])
        said = f"  (with {', '.join(helpers)})" if helpers else ""
        if not item["modules"]:
            return said
        libraries = item["libraries"][:4] + (["..."] if len(item["libraries"]) > 4 else [])
        return (said + f"  ({item['modules']} new module{'s' if item['modules'] > 1 else ''}"
                + (f": {', '.join(libraries)}" if libraries else "") + ")")

    section("Route files, import", route_files, "FILE", lambda f: f["file"] + pulled(f))
    width = max((len(r["path"]) for r in routes[:top]), default=4)
    section("Routes, FastAPI registration", routes, f"{'METHOD':<7} {'URL':<{width}}  FILE",
            lambda r: f"{r['label']:<7} {r['path']:<{width}}  {r['file']}:{r['line']}"
            + pulled(r))
    section("Other project files, import", others, "FILE", lambda f: f["file"] + pulled(f))
    return "\n".join(lines)
