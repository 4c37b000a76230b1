"""Where `fastapi-route run`'s start, warm-up and first /openapi.json go, phase by phase
(issue 19), next to the plain-FastAPI floor and `dev`'s save -> served, in-process.

For each tree size N (bench/generate.py, `--models` for the tree with pydantic models; built
once), three child processes, each a fresh interpreter so that no size or contender pays for
another's heap:

- `run`: the imports `fastapi-route run` makes (click and our CLI, pydantic, FastAPI, uvicorn,
  our runtime), then `create_app` as `run` calls it, cut into its parts (the cache read and
  verified, the stale check, app.py, `FastAPI(...)`, importing every route file, with pydantic
  class creation inside it timed apart, our stand-ins and the dispatcher's index), then uvicorn
  in-process until the first 200; the server is stopped and the warm-up done as `run` does it
  (2 ms slices, each ended by `gc.collect(1)` and `gc.freeze()`), with FastAPI's and our parts
  of each route timed; then full garbage collections over the live heap (frozen and not);
  then the first `app.openapi()`, cut into FastAPI's steps, and its JSON;
- `floor`: the same imports, then the floor app's loop (import each file, `add_api_route`)
  with the same timers, then its first `app.openapi()`;
- `dev`: `fastapi-route dev`'s app (scan, validate, lazy app), then edits and new folders
  swapped in as its watcher does (`DevApp.reload_routes`: walk, parse of the changed files,
  validation, table install, dispatcher index, memo caches), each followed by the request that
  serves it (import and registration of that one route). The watcher's own latency (watchfiles
  and its 30 ms step) is not inside; bench/run.py measures the whole.

Every garbage collection is recorded (`gc.callbacks`) with the phase it fell in. Timers are
wrappers counted once per outermost call; their cost is about a microsecond a call.

    python bench/profile_start.py --models --sizes 1000 10000 \
        --json docs/performance-10k-profile.json
    python bench/profile_start.py --models --sizes 1000 --cprofile /tmp/prof   # + pstats files

Run it with the library you mean to measure importable (PYTHONPATH): the children use this
interpreter and environment.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import functools
import gc
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

PYTHON = sys.executable
SLICE = 0.002  # the warm-up's slice (runtime/ondemand.py WARM_UP_SLICE)
KINDS = ("run", "floor", "dev")


# --- measuring inside a child ----------------------------------------------------------------


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Timers:
    """Time per label: inclusive (`s`) and exclusive of the timed calls inside it (`own`),
    counted once per outermost call of each label (a recursive call is its caller's time).
    The exclusive times of a phase add up to the time spent inside timed calls; each label
    is a cost per route file or per route (`per`), for the per-unit figures."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.own: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.per: dict[str, str] = {}
        self._local = threading.local()

    def _stack(self) -> list[list[Any]]:
        stack: list[list[Any]] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    @contextlib.contextmanager
    def timing(self, label: str) -> Iterator[None]:
        stack = self._stack()
        if any(frame[0] == label for frame in stack):
            yield
            return
        frame: list[Any] = [label, time.perf_counter(), 0.0]  # label, start, children
        stack.append(frame)
        try:
            yield
        finally:
            stack.pop()
            elapsed = time.perf_counter() - frame[1]
            self.seconds[label] += elapsed
            self.own[label] += elapsed - frame[2]
            self.calls[label] += 1
            if stack:
                stack[-1][2] += elapsed

    def wrap(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(label):
                return func(*args, **kwargs)

        return timed

    def patch(self, owner: Any, name: str, label: str, per: str = "file",
              everywhere: bool = True) -> None:
        """Time owner.name; a module-level function is replaced in every module that
        imported it by name too (`from x import f` copies the reference), unless not
        `everywhere` (a class, or a function also called for other purposes)."""
        self.per[label] = per
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        if isinstance(original, (staticmethod, classmethod)):
            setattr(owner, name, type(original)(self.wrap(label, original.__func__)))
            return
        wrapped = self.wrap(label, original)
        setattr(owner, name, wrapped)
        if everywhere and not isinstance(owner, type):
            for module in list(sys.modules.values()):
                if getattr(module, name, None) is original:
                    with contextlib.suppress(AttributeError, TypeError):
                        setattr(module, name, wrapped)

    def credit(self, label: str, elapsed: float) -> None:
        """Time spent now, in this thread, outside any timed call's own work (a garbage
        collection): a child of the call under way."""
        self.per.setdefault(label, "file")
        self.seconds[label] += elapsed
        self.own[label] += elapsed
        self.calls[label] += 1
        stack = self._stack()
        if stack:
            stack[-1][2] += elapsed

    def phase(self, label: str, per: str = "file") -> contextlib.AbstractContextManager[None]:
        self.per[label] = per
        return self.timing(label)

    def state(self) -> dict[str, tuple[float, float, int]]:
        return {k: (v, self.own[k], self.calls[k]) for k, v in self.seconds.items()}

    def since(self, before: dict[str, tuple[float, float, int]]) -> dict[str, dict[str, Any]]:
        out = {}
        for label, (inclusive, own, calls) in self.state().items():
            was = before.get(label, (0.0, 0.0, 0))
            if calls > was[2]:
                out[label] = {"s": round(inclusive - was[0], 6), "own": round(own - was[1], 6),
                              "calls": calls - was[2], "per": self.per.get(label, "file")}
        return out


class Collections:
    """Every garbage collection, with the phase it fell in: (generation, seconds). Its time
    is taken out of the timed call it interrupted (a collection falls wherever allocations
    set it off) and shown as its own timer."""

    def __init__(self, timers: Timers) -> None:
        self.timers = timers
        self.phase = "start"
        self.by_phase: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, event: str, info: dict[str, Any]) -> None:
        if event == "start":
            self._started = time.perf_counter()
        else:
            elapsed = time.perf_counter() - self._started
            generation = int(info["generation"])
            self.by_phase[self.phase].append((generation, elapsed))
            self.timers.credit("garbage collector: full" if generation == 2
                               else "garbage collector: young", elapsed)

    def summary(self, phase: str) -> dict[str, Any]:
        events = self.by_phase.get(phase, [])
        full = [s for g, s in events if g == 2]
        return {"collections": len(events), "total_s": round(sum(s for _, s in events), 4),
                "full": len(full), "full_total_s": round(sum(full), 4),
                "full_max_s": round(max(full, default=0.0), 4),
                "young_max_s": round(max((s for g, s in events if g < 2), default=0.0), 4)}


class Recorder:
    """A child's phases, one after the other: wall time, the timers' deltas, the garbage
    collections and the RSS at the end of each."""

    def __init__(self) -> None:
        self.timers = Timers()
        self.collections = Collections(self.timers)
        self.phases: dict[str, dict[str, Any]] = {}
        self._name: str | None = None
        self._started = 0.0
        self._mark: dict[str, tuple[float, float, int]] = {}

    def begin(self, name: str) -> None:
        self.end()
        self._name, self._started, self._mark = name, time.perf_counter(), self.timers.state()
        self.collections.phase = name

    def end(self) -> None:
        if self._name is None:
            return
        self.phases[self._name] = {
            "wall_s": round(time.perf_counter() - self._started, 5),
            "timers": self.timers.since(self._mark),
            "gc": self.collections.summary(self._name), "rss_mib": round(rss_mib(), 1)}
        self._name = None
        self.collections.phase = "between phases"


class Profiler:
    """cProfile around chosen phases, written as pstats files (--cprofile DIR)."""

    def __init__(self, folder: str | None, tag: str) -> None:
        self.folder, self.tag = folder, tag

    @contextlib.contextmanager
    def around(self, phase: str) -> Iterator[None]:
        if not self.folder:
            yield
            return
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
        try:
            yield
        finally:
            profile.disable()
            Path(self.folder).mkdir(parents=True, exist_ok=True)
            profile.dump_stats(str(Path(self.folder) / f"{self.tag}-{phase}.pstats"))


def time_imports(timers: Timers) -> None:
    """The imports `fastapi-route run` makes, each timed after the ones before it."""
    with timers.phase("import click + fastapi_route.cli"):
        import fastapi_route.cli
    with timers.phase("import pydantic"):
        import pydantic  # noqa: F401
    with timers.phase("import fastapi (starlette)"):
        import fastapi  # noqa: F401
    with timers.phase("import uvicorn"):
        import uvicorn  # noqa: F401
    with timers.phase("import fastapi_route runtime"):
        import fastapi_route.asgi
        import fastapi_route.runtime.app
        import fastapi_route.serving  # noqa: F401


def patch_fastapi(timers: Timers) -> None:
    """FastAPI's per-route work and its OpenAPI steps."""
    import fastapi.openapi.utils as openapi_utils
    import fastapi.routing as routing
    import fastapi.utils as fastapi_utils
    from fastapi._compat import v2
    from fastapi.dependencies import utils as dependencies
    from pydantic._internal import _model_construction
    from pydantic.json_schema import GenerateJsonSchema

    timers.patch(_model_construction.ModelMetaclass, "__new__", "pydantic class creation")
    route = {"per": "route"}
    timers.patch(routing.APIRouter, "add_api_route", "fastapi add_api_route", **route)
    timers.patch(routing.APIRoute, "__init__", "fastapi APIRoute()", **route)
    timers.patch(dependencies, "get_dependant", "fastapi get_dependant", **route)
    timers.patch(fastapi_utils, "create_model_field", "fastapi create_model_field", **route)
    timers.patch(v2.ModelField, "__post_init__", "fastapi ModelField: pydantic TypeAdapter",
                 **route)
    timers.patch(routing, "compile_path", "starlette compile_path", everywhere=False, **route)
    for name, label in (
        ("get_openapi", "openapi get_openapi"),
        ("get_fields_from_routes", "openapi get_fields_from_routes"),
        ("get_model_name_map", "openapi model name map"),
        ("get_definitions", "openapi get_definitions (model schemas)"),
        ("get_openapi_path", "openapi get_openapi_path (per route)"),
    ):
        timers.patch(openapi_utils, name, label, **route)
    # walking every model's fields (a ModelField, so a TypeAdapter, per field, uncached):
    # once in get_openapi, twice more inside get_definitions
    timers.patch(openapi_utils, "get_flat_models_from_fields",
                 "openapi flat models (get_openapi's pass)", everywhere=False, **route)
    timers.patch(v2, "get_flat_models_from_fields",
                 "openapi flat models (get_definitions' two passes)", everywhere=False, **route)
    timers.patch(GenerateJsonSchema, "generate_definitions",
                 "openapi pydantic generate_definitions", **route)
    timers.patch(openapi_utils, "OpenAPI", "openapi OpenAPI(**document) validation",
                 everywhere=False, **route)
    timers.patch(openapi_utils, "jsonable_encoder", "openapi jsonable_encoder(document)",
                 everywhere=False, **route)


def patch_ours(timers: Timers) -> None:
    from fastapi_route.pipeline import build, freshness, scan
    from fastapi_route.pipeline import cache as cache_io
    from fastapi_route.runtime import (
        app,
        appfile,
        caches,
        devserver,
        dispatch,
        extras,
        modules,
        ondemand,
        register,
    )

    route = {"per": "route"}
    timers.patch(cache_io, "load", "ours cache load")
    timers.patch(freshness, "check", "ours stale check")
    timers.patch(appfile.AppFile, "load", "ours app.py")
    timers.patch(extras, "install", "ours extras (docs, static)")
    timers.patch(ondemand.OnDemandRoutes, "import_all", "import route files")
    timers.patch(modules, "_execute", "import: module exec (route files and packages)")
    timers.patch(ondemand.OnDemandRoutes, "install", "ours install (import + stand-ins)")
    timers.patch(register.Registrar, "__init__", "ours Registrar() (methods, operation ids)")
    timers.patch(dispatch, "install", "ours dispatcher install")
    timers.patch(dispatch.RouteIndex, "__init__", "ours dispatcher index")
    timers.patch(register.Registrar, "add", "ours Registrar.add (route made real)", **route)
    timers.patch(register, "endpoint_for", "ours endpoint_for", **route)
    timers.patch(register, "describe", "ours describe (summary, description)", **route)
    timers.patch(register, "compile_served", "ours compile_served", **route)
    timers.patch(register.Registrar, "_take", "ours _take", **route)
    timers.patch(register.FileAPIRoute, "fit", "ours FileAPIRoute.fit", **route)
    timers.patch(modules.ProjectModules, "function", "ours modules.function", **route)
    timers.patch(dispatch.Dispatcher, "routes_replaced", "ours dispatcher routes_replaced",
                 **route)
    timers.patch(app, "create_app", "create_app")
    timers.patch(scan, "walk", "dev walk")
    timers.patch(scan.TreeWalk, "walk_all", "dev walk")
    timers.patch(scan.TreeWalk, "rewalk", "dev walk (changed folders only)")
    timers.patch(ondemand.OnDemandRoutes, "stage", "ours stage (stand-ins, Registrar)")
    timers.patch(devserver.DevApp, "_settle", "dev settle (full collection, freeze)")
    timers.patch(build, "scan", "dev scan (walk + parse changed)")
    timers.patch(build, "validate", "dev validate")
    timers.patch(modules.ProjectModules, "forget", "dev modules.forget")
    timers.patch(caches, "clear_memo_caches", "dev clear_memo_caches")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_response(app: Any, root: Path, url: str) -> tuple[Any, threading.Thread]:
    """uvicorn (in a thread, as `run` configures it) until a GET of url answers 200."""
    import uvicorn

    from fastapi_route.runtime.failure import Starting
    from fastapi_route.runtime.protocol import NoDelayHTTPProtocol

    port = free_port()
    config = uvicorn.Config(Starting(app, root), host="127.0.0.1", port=port,
                            log_level="warning", http=NoDelayHTTPProtocol)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(
                f"http://127.0.0.1:{port}{url}", timeout=5) as r:
            if r.status == 200:
                return server, thread
        time.sleep(0.002)


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"n": len(ordered), "total_s": round(sum(ordered), 4),
            "median_ms": round(statistics.median(ordered) * 1000, 4),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 3),
            "max_ms": round(ordered[-1] * 1000, 3)}


def full_collections(repeat: int = 3) -> dict[str, Any]:
    """A full collection over the live heap, as is, and after gc.freeze(); and how many
    objects the first one found unreachable (under `run`: garbage the warm-up's freezes
    kept)."""
    gc.unfreeze()
    started = time.perf_counter()
    found = gc.collect()
    first = time.perf_counter() - started
    unfrozen = statistics.median([first, *(_time(gc.collect) for _ in range(repeat - 1))])
    objects = len(gc.get_objects())
    gc.freeze()
    frozen = statistics.median(_time(gc.collect) for _ in range(repeat))
    young = statistics.median(_time(lambda: gc.collect(1)) for _ in range(repeat))
    return {"objects": objects, "unreachable_found": found, "full_unfrozen_s": round(unfrozen, 4),
            "full_after_freeze_s": round(frozen, 5), "gen1_after_freeze_s": round(young, 5)}


def _time(func: Callable[[], object]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def openapi(app: Any, recorder: Recorder, profiler: Profiler, as_run: bool) -> dict[str, Any]:
    """The first app.openapi() (with every route real), then its JSON as `run` renders it;
    `as_run`: with the oldest generation held back, as `run`'s document thread does (the
    heap is frozen before)."""
    from fastapi_route.runtime.openapi import FULL_COLLECTIONS_HELD, render

    recorder.begin("openapi")
    app.openapi_schema = None
    thresholds = gc.get_threshold()
    if as_run:
        gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTIONS_HELD)
    with profiler.around("openapi"), recorder.timers.phase("openapi: app.openapi()", "route"):
        document = app.openapi()
    gc.set_threshold(*thresholds)
    recorder.begin("openapi JSON")
    with recorder.timers.phase("openapi JSON (render, as run does)", "route"):
        body = render(document)
    recorder.end()
    return {"bytes": len(body), "paths": len(document["paths"]),
            "schemas": len(document.get("components", {}).get("schemas", {}))}


def child_run(root: Path, url: str, profile_dir: str | None) -> dict[str, Any]:
    began = time.time()
    recorder = Recorder()
    timers = recorder.timers
    profiler = Profiler(profile_dir, f"run-{root.name}")
    recorder.begin("imports")
    time_imports(timers)
    patch_fastapi(timers)
    patch_ours(timers)
    from fastapi_route.config import load_config
    from fastapi_route.project import find_project
    from fastapi_route.runtime.app import create_app, runtime_of

    recorder.begin("create_app")
    project = find_project(root)
    config = load_config(project.root)
    with profiler.around("create_app"):
        app = create_app(project, source="cache", config=config, schedule="warm", server=True)
    recorder.begin("uvicorn to first response")
    with timers.phase("uvicorn start, lifespan, first request"):
        server, thread = first_response(app, project.root, url)
    ready = time.perf_counter()
    recorder.begin("server stopped")
    server.should_exit = True
    thread.join(30)
    file_routes = runtime_of(app).file_routes
    made_before = sum(lazy.real is not None for lazy in file_routes.lazy)
    # the warm-up as `run` does it, without its pauses: 2 ms slices, each ended by
    # collect(1) and freeze()
    recorder.begin("warm-up")
    gc.unfreeze()
    per_route: list[float] = []
    slices: list[float] = []
    ends: list[float] = []
    with profiler.around("warm-up"), timers.phase("warm-up: slices", "route"):
        pending = [lazy for lazy in file_routes.lazy if lazy.real is None]
        at = 0
        while at < len(pending):
            slice_started = time.perf_counter()
            until = slice_started + SLICE
            while at < len(pending) and time.perf_counter() < until:
                started = time.perf_counter()
                pending[at].materialize()
                per_route.append(time.perf_counter() - started)
                at += 1
            with timers.phase("warm-up: slice ends (collect(1), freeze)", "route"):
                started = time.perf_counter()
                gc.collect(1)
                gc.freeze()
                ends.append(time.perf_counter() - started)
            slices.append(time.perf_counter() - slice_started)
    recorder.begin("full collections, every route live")
    gc_live = full_collections()
    gc.freeze()  # as `run` leaves it
    document = openapi(app, recorder, profiler, as_run=True)
    return {"began": began, "first_response_since_main_s": round(ready - MAIN_STARTED, 4),
            "phases": recorder.phases, "gc_live": gc_live, "routes": len(file_routes.lazy),
            "made_before_warm_up": made_before, "per_route": _stats(per_route),
            "slices": _stats(slices), "slice_ends": _stats(ends), "openapi": document}


def child_floor(root: Path, profile_dir: str | None) -> dict[str, Any]:
    import importlib.util

    began = time.time()
    recorder = Recorder()
    timers = recorder.timers
    profiler = Profiler(profile_dir, f"floor-{root.name}")
    recorder.begin("imports")
    time_imports(timers)
    patch_fastapi(timers)
    from fastapi import FastAPI

    source = (root / "floor_app.py").read_text()
    routes = ast.literal_eval(source[source.index("ROUTES = ") + 9:source.index("\n\napp =")])
    app = FastAPI()
    recorder.begin("import route files")
    modules = []
    with profiler.around("import"), timers.phase("import route files (floor)"):
        for number, (_, file, _) in enumerate(routes):
            spec = importlib.util.spec_from_file_location(f"floor_route_{number}", root / file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            modules.append(module)
    recorder.begin("add_api_route")
    per_route: list[float] = []
    with profiler.around("register"), timers.phase("add_api_route loop (floor)", "route"):
        for module, (url, _, methods) in zip(modules, routes, strict=True):
            for method in methods:
                started = time.perf_counter()
                app.add_api_route(url, getattr(module, method), methods=[method])
                per_route.append(time.perf_counter() - started)
    ready = time.perf_counter()
    recorder.begin("full collections, every route live")
    gc_live = full_collections()
    gc.unfreeze()  # the floor does not freeze
    document = openapi(app, recorder, profiler, as_run=False)
    return {"began": began, "registered_since_main_s": round(ready - MAIN_STARTED, 4),
            "phases": recorder.phases, "gc_live": gc_live, "routes": len(per_route),
            "per_route": _stats(per_route), "openapi": document}


async def _asgi_get(app: Any, path: str) -> tuple[int, bytes]:
    body: list[bytes] = []
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "headers": [(b"host", b"profile")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)
    return status[0], b"".join(body)


def child_dev(root: Path, static_url: str, models: bool, samples: int,
              profile_dir: str | None) -> dict[str, Any]:
    from generate import edit_route, new_route

    began = time.time()
    recorder = Recorder()
    timers = recorder.timers
    profiler = Profiler(profile_dir, f"dev-{root.name}")
    recorder.begin("imports")
    time_imports(timers)
    patch_fastapi(timers)
    patch_ours(timers)
    from fastapi_route.config import load_config
    from fastapi_route.project import find_project
    from fastapi_route.runtime.devserver import DevApp, _forget_bytecode

    project = find_project(root)
    config = load_config(project.root)
    dev = DevApp(project, config, freeze=True)  # as the dev command makes it
    recorder.begin("first build (scan, validate, lazy app)")
    dev.build()
    assert dev.app is not None, dev.error
    # As the watcher starts: changes are told from here on, after one full reload.
    dev.facts.track()
    dev.reload_routes()
    recorder.begin("first request")
    with timers.phase("request (import the file, register the route, answer)", "route"):
        assert asyncio.run(_asgi_get(dev, static_url))[0] == 200
    files = sorted(p.relative_to(root).as_posix() for p in (root / "routes").rglob("route.py")
                   if "[" not in p.as_posix())
    out: dict[str, list[dict[str, Any]]] = {"edit": [], "new_folder": []}
    for k in range(samples):
        for kind in ("edit", "new_folder"):
            if kind == "edit":
                rel = files[(k + 1) * len(files) // (samples + 1)]
                url = "/" + "/".join(p for p in Path(rel).parent.parts[1:]
                                     if not p.startswith("("))
                marker = f'"{edit_route(root, rel, f"p{k}")}"'.encode()
                changed = {str(root / rel)}
            else:
                url = new_route(root, f"profile{k}", models)
                marker = b""
                changed = {str(root / "routes" / f"profile{k}" / "route.py")}
            saved = time.perf_counter()
            _forget_bytecode(changed)
            recorder.begin(f"{kind} {k}: reload")
            with profiler.around(f"reload-{kind}-{k}"), timers.phase("reload_routes (other)"):
                dev.reload_routes(changed)  # all in this thread: dev does it in a worker
            reloaded = time.perf_counter()
            recorder.begin(f"{kind} {k}: request")
            with timers.phase("request (import the file, register the route, answer)", "route"):
                status, body = asyncio.run(_asgi_get(dev, url))
            answered = time.perf_counter()
            recorder.end()
            if status != 200 or marker not in body:
                raise RuntimeError(f"{kind} {url}: {status} {body[:200]!r}")
            out[kind].append({"reload_s": round(reloaded - saved, 4),
                              "request_s": round(answered - reloaded, 4),
                              "total_s": round(answered - saved, 4)})
            time.sleep(0.1)
    return {"began": began, "phases": recorder.phases, "samples": out}


# --- the parent --------------------------------------------------------------------------------


def spawn(kind: str, tree: Path, extra: list[str]) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = time.time()
    out = subprocess.run([PYTHON, __file__, "--child", kind, "--tree", str(tree), *extra],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["interpreter_start_s"] = round(result.pop("began") - before, 4)
    result["child_wall_s"] = round(time.time() - before, 3)
    return result


def profile_size(n: int, scratch: Path, models: bool, samples: int,
                 profile_dir: str | None, kinds: list[str]) -> dict[str, Any]:
    from generate import generate

    tree = generate(n, scratch / f"tree-{n}", models=models)
    started = time.perf_counter()
    subprocess.run([PYTHON, "-m", "fastapi_route", "build", "--project", str(tree.root)],
                   check=True, stdout=subprocess.DEVNULL)
    build_s = time.perf_counter() - started
    extra = ["--url", tree.static_url] + (["--cprofile", profile_dir] if profile_dir else [])
    # bytecode cached, as on a user's machine (the same .pyc files an import writes)
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(tree.root / "routes")], check=True)
    result: dict[str, Any] = {"files": tree.files,
                              "routes": sum(len(m) for _, _, m in tree.routes),
                              "build_s": round(build_s, 3)}
    for kind in ("floor", "run"):
        if kind in kinds:
            result[kind] = spawn(kind, tree.root, extra)
            say(f"N={n} {kind}: child {result[kind]['child_wall_s']} s")
    if "dev" not in kinds:
        return result
    dev_root = scratch / f"dev-{n}"
    shutil.copytree(tree.root, dev_root, symlinks=True)
    shutil.rmtree(dev_root / ".cache", ignore_errors=True)
    result["dev"] = spawn("dev", dev_root, [*extra, "--samples", str(samples)]
                          + (["--models"] if models else []))
    say(f"N={n} dev: child {result['dev']['child_wall_s']} s")
    return result


STARTED = time.perf_counter()
MAIN_STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:6.0f} s, load {os.getloadavg()[0]:.2f}] {message}",
          flush=True, file=sys.stderr)


def _ordered(names: list[list[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for group in names:
        seen.update(dict.fromkeys(group))
    return list(seen)


def report(results: dict[str, Any]) -> str:
    """Per child and phase: wall seconds, then each timer's own (exclusive) seconds, at each
    N, with µs per route file or per route and how that grew from the first N to the last."""
    sizes = list(results["sizes"])
    r = results["sizes"]
    lines = [f"Commit {results['commit']}; load average {results['load_average']} at the "
             f"start, {results.get('load_average_end')} at the end", ""]
    units = {"file": [r[n]["files"] for n in sizes], "route": [r[n]["routes"] for n in sizes],
             "process": [1 for _ in sizes]}

    def row(label: str, values: list[float], unit: str) -> str:
        per = [v / k * 1e6 for v, k in zip(values, units[unit], strict=True)]
        growth = f"{per[-1] / per[0]:.2f}x" if len(per) > 1 and per[0] > 0 else "-"
        return (f"| {label} | " + " | ".join(f"{v:.3f}" for v in values) + " | "
                + " | ".join(f"{v:.0f}" for v in per) + f" | {unit} | {growth} |")

    header = ("| phase / timer (own time) | " + " | ".join(f"N={n} (s)" for n in sizes)
              + " | " + " | ".join(f"µs per unit, N={n}" for n in sizes) + " | unit | growth |")
    rule = "|---" * (2 * len(sizes) + 3) + "|"
    for kind in ("run", "floor"):
        if not all(kind in r[n] for n in sizes):
            continue
        k = {n: r[n][kind] for n in sizes}
        lines += [f"#### {kind}", "", header, rule,
                  row("interpreter start (spawn to the first line)",
                      [k[n]["interpreter_start_s"] for n in sizes], "process")]
        for phase in _ordered([list(k[n]["phases"]) for n in sizes]):
            got = {n: k[n]["phases"].get(phase, {"wall_s": 0.0, "timers": {}}) for n in sizes}
            lines.append(row(f"**{phase}** (wall)", [got[n]["wall_s"] for n in sizes], "file"))
            labels = _ordered([list(got[n]["timers"]) for n in sizes])
            labels.sort(key=lambda label: -max(got[n]["timers"].get(label, {}).get("own", 0.0)
                                               for n in sizes))
            for label in labels:
                own = [got[n]["timers"].get(label, {}).get("own", 0.0) for n in sizes]
                if max(own) < 0.0005:
                    continue
                unit = next(got[n]["timers"][label]["per"] for n in sizes
                            if label in got[n]["timers"])
                lines.append(row(f"&nbsp;&nbsp;{label}", own, unit))
        lines.append("")
        for n in sizes:
            x = k[n]
            lines.append(f"N={n}: per route {x['per_route']}; document {x['openapi']}; "
                         f"full collection over the live heap {x['gc_live']}")
            if kind == "run":
                lines.append(f"N={n}: slices {x['slices']}; slice ends {x['slice_ends']}; "
                             f"routes made before the warm-up {x['made_before_warm_up']}; "
                             f"first response {x['first_response_since_main_s']} s after main")
            for phase, got in x["phases"].items():
                if got["gc"]["collections"]:
                    lines.append(f"N={n} {phase}: gc {got['gc']}; RSS {got['rss_mib']} MiB")
            lines.append("")
    if not all("dev" in r[n] for n in sizes):
        return "\n".join(lines)
    lines += ["#### dev (in-process: no watcher, no HTTP)", "",
              "| step (median of the samples, own time) | "
              + " | ".join(f"N={n} edit (ms)" for n in sizes) + " | "
              + " | ".join(f"N={n} new folder (ms)" for n in sizes) + " |",
              "|---" * (2 * len(sizes) + 1) + "|"]
    medians: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    labels: list[str] = []
    for n in sizes:
        for phase, got in r[n]["dev"]["phases"].items():
            if ": " not in phase:
                continue
            kind = phase.split()[0]
            for label, t in got["timers"].items():
                medians[(n, kind, label)].append(t["own"])
                if label not in labels:
                    labels.append(label)
    for label in labels:
        cells = []
        for kind in ("edit", "new_folder"):
            for n in sizes:
                values = medians.get((n, kind, label), [])
                cells.append(f"{statistics.median(values) * 1000:.1f}" if values else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    totals = []
    for kind in ("edit", "new_folder"):
        for n in sizes:
            samples = r[n]["dev"]["samples"][kind]
            totals.append(f"{statistics.median(s['total_s'] for s in samples) * 1000:.1f}")
    lines.append("| **save -> served, in-process** | " + " | ".join(totals) + " |")
    for n in sizes:
        first = r[n]["dev"]["phases"].get("first build (scan, validate, lazy app)", {})
        lines.append("")
        lines.append(f"N={n}: dev's first build {first.get('wall_s')} s: " + ", ".join(
            f"{label} {t['own']:.3f}" for label, t in first.get("timers", {}).items()
            if t["own"] >= 0.001))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--models", action="store_true", help="the tree with pydantic models")
    parser.add_argument("--samples", type=int, default=3, help="dev edits and new folders")
    parser.add_argument("--cprofile", default=None, help="write pstats files here")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                        help="which children (default: all three)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--child", choices=("run", "floor", "dev"), help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="/area0/res0", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "run":
            result = child_run(args.tree, args.url, args.cprofile)
        elif args.child == "floor":
            result = child_floor(args.tree, args.cprofile)
        else:
            result = child_dev(args.tree, args.url, args.models, args.samples, args.cprofile)
        print(json.dumps(result))
        sys.stdout.flush()
        os._exit(0)  # the heap is not torn down (seconds at 10,000 files)
    from run import _git_head

    results: dict[str, Any] = {"commit": _git_head(), "models": args.models,
                               "load_average": [round(x, 2) for x in os.getloadavg()],
                               "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="fastapi-route-profile-") as scratch:
        for n in args.sizes:
            results["sizes"][str(n)] = profile_size(n, Path(scratch), args.models,
                                                    args.samples, args.cprofile, args.kinds)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    say("done")


if __name__ == "__main__":
    main()
