"""Where the memory of an app with every route live goes, by allocation site: an eager
`create_app` against the plain-FastAPI floor over the same tree (issue 19, item 7).

Each contender runs in a fresh interpreter. With `--trace`, `tracemalloc` runs from before the
first import to the moment every route is live; the live heap is then grouped by the library
that allocated it (the innermost frame: ours, FastAPI, pydantic, Starlette, the import system,
...) and ours by line. Without it, the figure is the process's RSS with every route live (and
`sys.modules`' size), before any `/openapi.json` and, with `--openapi`, after the first one
made as each contender makes it (the bench's memory row, in-process), and then once more
after both were given back what the C allocator kept from the document's peak (`run` does it
itself; the floor does not): what each app holds, whichever way its document was made.

    python bench/generate.py --models 1000 /tmp/tree-1000
    python bench/memory_sites.py /tmp/tree-1000            # RSS, run vs floor
    python bench/memory_sites.py --openapi /tmp/tree-1000  # and after the first document
    python bench/memory_sites.py --trace /tmp/tree-1000    # by allocation site (slow)
"""

from __future__ import annotations

import argparse
import ast
import gc
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

FRAMES = 1  # the innermost frame: who asked for the memory


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_run(tree: Path) -> Any:
    from fastapi_route.runtime.app import create_app

    return create_app(tree, source="cache", schedule="eager")


def build_floor(tree: Path) -> Any:
    """The floor as `floor_app.py` builds it (its loader, `add_api_route` for every route)."""
    import importlib.util

    from fastapi import FastAPI

    source = (tree / "floor_app.py").read_text()
    routes = ast.literal_eval(source[source.index("ROUTES = ") + 9:source.index("\n\napp =")])
    app = FastAPI()
    for number, (url, file, methods) in enumerate(routes):
        spec = importlib.util.spec_from_file_location(f"floor_route_{number}", tree / file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for method in methods:
            app.add_api_route(url, getattr(module, method), methods=[method])
    return app


def group_of(filename: str) -> str:
    """The library a frame's file belongs to."""
    parts = Path(filename).parts
    for package in ("fastapi_route", "fastapi", "pydantic", "pydantic_core", "starlette",
                    "typing_extensions", "annotated_types"):
        if package in parts:
            return package
    if "<frozen" in filename:
        return "import system"
    if "routes" in parts:
        return "the route files"
    name = Path(filename).name
    return f"stdlib {name}" if "python3" in filename else name


def document(kind: str, app: Any, how: str = "run") -> None:
    """The first `/openapi.json` as each contender makes it: `run` with the heap frozen and
    full collections held back, then frozen again and what the C allocator kept from the
    peak given back (`runtime.openapi`); the floor, FastAPI's.
    `how` makes `run`'s another way: `frozen` (the heap frozen first, the collector as it
    is), `stock` (as the floor)."""
    if kind == "floor" or how == "stock":
        json.dumps(app.openapi())
        return
    from fastapi_route.runtime import collector
    from fastapi_route.runtime.openapi import FULL_COLLECTIONS_HELD, render

    gc.freeze()
    if how == "frozen":
        json.dumps(app.openapi())
        return
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTIONS_HELD)
    render(app.openapi())
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(*thresholds)
    collector.give_back()


def child(kind: str, tree: Path, trace: bool, openapi: str | None) -> dict[str, Any]:
    if trace:
        tracemalloc.start(FRAMES)
    before = rss_mib()
    app = (build_run if kind == "run" else build_floor)(tree)
    gc.collect()
    result: dict[str, Any] = {"kind": kind, "rss_mib": round(rss_mib(), 1),
                              "rss_start_mib": round(before, 1),
                              "sys_modules": len(sys.modules), "routes": len(app.routes)}
    if openapi:
        document(kind, app, openapi)
        result["rss_openapi_mib"] = round(rss_mib(), 1)
        # And both given back what the allocator kept from the peak (run's already is): what
        # each app holds, whichever way its document was made.
        from fastapi_route.runtime import collector

        collector.give_back()
        result["rss_given_back_mib"] = round(rss_mib(), 1)
    if not trace:
        return result
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)])
    groups: dict[str, list[int]] = {}
    ours: dict[str, list[int]] = {}
    for stat in snapshot.statistics("lineno"):
        frame = stat.traceback[0]
        entry = groups.setdefault(group_of(frame.filename), [0, 0])
        entry[0] += stat.size
        entry[1] += stat.count
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        ours[where] = [stat.size, stat.count]
    result["traced_mib"] = round(sum(g[0] for g in groups.values()) / 2**20, 2)
    result["by_group"] = {k: {"kib": round(v[0] / 1024), "blocks": v[1]}
                          for k, v in sorted(groups.items(), key=lambda i: -i[1][0])}
    result["by_line"] = {k: {"kib": round(v[0] / 1024), "blocks": v[1]}
                         for k, v in sorted(ours.items(), key=lambda i: -i[1][0])[:400]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path)
    parser.add_argument("--trace", action="store_true", help="by allocation site (slow)")
    parser.add_argument("--rounds", type=int, default=1, help="RSS: fresh processes each")
    parser.add_argument("--openapi", nargs="?", const="run", choices=("run", "frozen", "stock"),
                        help="RSS also after the first document, made as each makes it "
                        "(or run's made `frozen`: the heap frozen first; `stock`: as the floor)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", choices=("run", "floor"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.tree.resolve(), args.trace, args.openapi)))
        return
    results: dict[str, list[dict[str, Any]]] = {"run": [], "floor": []}
    for _ in range(args.rounds):
        for kind in results:  # interleaved: the load of the machine falls on both alike
            command = [sys.executable, __file__, str(args.tree), "--child", kind]
            out = subprocess.run(command + (["--trace"] if args.trace else [])
                                 + ([f"--openapi={args.openapi}"] if args.openapi else []),
                                 check=True, capture_output=True, text=True).stdout
            results[kind].append(json.loads(out.splitlines()[-1]))
    for kind, samples in results.items():
        rss = sorted(s["rss_mib"] for s in samples)
        print(f"{kind}: RSS every route live {rss[len(rss) // 2]:.1f} MiB (of {rss}), "
              f"sys.modules {samples[0]['sys_modules']}")
    for key in ("rss_mib", "rss_openapi_mib", "rss_given_back_mib") if args.openapi else (
            "rss_mib",):
        run, floor = (sorted(s[key] for s in results[k]) for k in ("run", "floor"))
        print(f"{key}: run {run[len(run) // 2]:.1f} / floor {floor[len(floor) // 2]:.1f} MiB = "
              f"{run[len(run) // 2] / floor[len(floor) // 2]:.3f}x")
    if args.trace:
        for kind, samples in results.items():
            print(f"\n{kind}: traced {samples[0]['traced_mib']} MiB")
            for name, v in list(samples[0]["by_group"].items())[:14]:
                print(f"  {name:30} {v['kib']:>8} KiB {v['blocks']:>9} blocks")
        print("\nrun against floor, by line (the 30 largest differences):")
        run_lines, floor_lines = (results[k][0]["by_line"] for k in ("run", "floor"))
        zero = {"kib": 0, "blocks": 0}
        diffs = {name: (run_lines.get(name, zero), floor_lines.get(name, zero))
                 for name in {*run_lines, *floor_lines}}
        for name, (r, f) in sorted(diffs.items(),
                                   key=lambda i: -abs(i[1][0]["kib"] - i[1][1]["kib"]))[:30]:
            print(f"  {name:40} {r['kib'] - f['kib']:>+7} KiB {r['blocks'] - f['blocks']:>+8} "
                  f"blocks (run {r['kib']}, floor {f['kib']})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
