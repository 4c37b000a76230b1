"""What `fastapi_route.include` costs against `fastapi-route run`, and both against plain FastAPI.

For a generated tree of N route files (bench/generate.py, the tree bench/run.py uses), built
once, three processes under uvicorn on loopback, interleaved in shuffled rounds:

- `run`: `fastapi-route run` serving the tree as its own app;
- `include`: a host app (`host_app.py` below: FastAPI() and three routes of its own; no
  middleware, whose cost would be the host's) that includes the same tree, from its cache,
  below `/api`;
- `floor`: plain FastAPI importing every route file by hand (`floor_app.py`).

Measured: the time from process start to the first 200 (a static route), then requests/s with
wrk on dynamic routes at the start, middle and end of the table once every route is live
(after /openapi.json), and the latency (median, p99, max) of sequential requests over those
routes from the first response on, while `run`'s and `include`'s warm-up runs.

    python bench/include.py --size 1000 --rounds 5 --wrk-seconds 3
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from generate import Tree, generate
from run import OPENAPI, PYTHON, Server, _percentile, _wrk, free_port, picks_of, probe, say

PREFIX = "/api"

HOST_APP = '''"""An app a team already has, with the generated tree included below {prefix}."""

from fastapi import FastAPI, Request

import fastapi_route

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {{"ok": True}}


@app.get("/v1/users/{{user_id}}")
def legacy_user(user_id: int) -> dict:
    return {{"user": user_id}}


@app.post("/v1/users")
def legacy_create(request: Request) -> dict:
    return {{"created": True}}


fastapi_route.include(app, {root!r}, prefix="{prefix}")
'''


def contenders(tree: Tree, port: int) -> dict[str, tuple[list[str], str]]:
    """name -> (command, the prefix its tree's URLs are below)."""
    uvicorn = [PYTHON, "-m", "uvicorn", "--port", str(port), "--log-level", "warning"]
    return {
        "run": ([PYTHON, "-m", "fastapi_route", "run", "--project", str(tree.root),
                 "--port", str(port), "--host", "127.0.0.1"], ""),
        "include": ([*uvicorn, "host_app:app"], PREFIX),
        "floor": ([*uvicorn, "floor_app:app"], ""),
    }


def sample(tree: Tree, name: str, wrk_seconds: int, probe_seconds: float,
           connections: int) -> dict[str, Any]:
    port = free_port()
    command, prefix = contenders(tree, port)[name]
    paths = [prefix + p for p in [tree.static_url, *picks_of(tree).values()]]
    result: dict[str, Any] = {}
    with Server(command, tree.root, port) as server:
        result["ttfr"] = server.first_response(prefix + tree.static_url)
        if probe_seconds:
            result["warmup"] = [took for _, took in
                                probe(port, paths, probe_seconds, server.ready_at)]
        if server.get(OPENAPI, 600)[0] != 200:
            raise RuntimeError(f"{name}: {OPENAPI} failed")
        if wrk_seconds and shutil.which("wrk"):
            for where, path in picks_of(tree).items():
                url = f"http://127.0.0.1:{port}{prefix}{path}"
                _wrk(url, 1, connections)  # warm
                result[f"rps_{where}"] = _wrk(url, wrk_seconds, connections)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--wrk-seconds", type=int, default=3)
    parser.add_argument("--probe-seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fastapi-route-include-") as scratch:
        tree = generate(args.size, Path(scratch) / "tree")
        (tree.root / "host_app.py").write_text(
            HOST_APP.format(root=str(tree.root), prefix=PREFIX), encoding="utf-8")
        subprocess.run([PYTHON, "-m", "fastapi_route", "build", "--project", str(tree.root)],
                       check=True, stdout=subprocess.DEVNULL)
        say(f"N={args.size}: {tree.files} route files, built")
        names = list(contenders(tree, 0))
        samples: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for number in range(args.rounds + 1):  # round 0 warms bytecode caches
            order = names[:]
            random.shuffle(order)
            for name in order:
                if number:
                    samples[name].append(sample(tree, name, args.wrk_seconds,
                                                args.probe_seconds, args.connections))
                else:
                    sample(tree, name, 0, 0, args.connections)
            say(f"round {number} done")
    summary: dict[str, dict[str, float]] = {}
    for name, rows in samples.items():
        numbers = {key: statistics.median(row[key] for row in rows)
                   for key in rows[0] if key != "warmup"}
        waits = sorted(t for row in rows for t in row.get("warmup", []))
        if waits:
            numbers.update(wait_median_ms=statistics.median(waits) * 1000,
                           wait_p99_ms=_percentile(waits, 0.99) * 1000,
                           wait_max_ms=waits[-1] * 1000)
        summary[name] = numbers
    print(report(summary, args))
    if args.json:
        args.json.write_text(json.dumps({"options": {k: str(v) for k, v in vars(args).items()},
                                         "summary": summary}, indent=2) + "\n")


def report(summary: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    floor, run = summary["floor"], summary["run"]
    lines = [f"N = {args.size} route files, {args.rounds} rounds, medians",
             "", "| | floor | run | include | include / run | include / floor |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    keys = [k for k in summary["include"] if k in run]
    for key in keys:
        values = [summary[n].get(key) for n in ("floor", "run", "include")]
        shown = ["" if v is None else f"{v:.3f}" if key == "ttfr" else f"{v:.1f}"
                 for v in values]
        include = summary["include"][key]
        lines.append(f"| {key} | {' | '.join(shown)} | {include / run[key]:.2f}x | "
                     + (f"{include / floor[key]:.2f}x |" if floor.get(key) else "|"))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
