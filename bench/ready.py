"""Ready, not just listening (SPEC 13.1): `run` with a readiness path against `run` without one
and against plain FastAPI, on the same tree, interleaved.

For a generated tree of N route files (bench/generate.py; `--models` for the tree shaped like
real APIs, issue 19), built once, three processes on loopback, in shuffled rounds (round 0
warms the bytecode caches and is not recorded):

- `floor`: plain FastAPI importing every route file by hand, under uvicorn (`floor_app.py`);
- `run`: `fastapi-route run`, which imports every route file before it binds;
- `run-ready`: `fastapi-route run` on a copy of the tree whose config.py sets
  `health = {"ready": "/readyz", "live": "/livez"}`: it binds first and imports after.

Measured: process start -> the first 200 on a static route ("first response"), and -> the
first 200 on the readiness path ("ready"; the other two are ready when they first respond);
then, from the first response on for `--probe-seconds`, sequential GETs over one connection
(the static route and dynamic routes at the start, middle and end of the table): each
request's wait (median, p99, max) and how many were answered per second.

    python bench/ready.py --models --size 1000 --rounds 3
    python bench/ready.py --models --size 10000 --rounds 1 --probe-seconds 40
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
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from generate import Tree, generate
from run import PYTHON, Server, _percentile, free_port, picks_of, probe, say

READY, LIVE = "/readyz", "/livez"
HEALTH = f'\nhealth = {{"ready": "{READY}", "live": "{LIVE}"}}\n'
NAMES = ("floor", "run", "run-ready")


def command(name: str, tree: Tree, ready_tree: Tree, port: int) -> list[str]:
    if name == "floor":
        return [PYTHON, "-m", "uvicorn", "--port", str(port), "--log-level", "warning",
                "floor_app:app"]
    root = ready_tree.root if name == "run-ready" else tree.root
    return [PYTHON, "-m", "fastapi_route", "run", "--project", str(root), "--port", str(port),
            "--host", "127.0.0.1"]


def sample(name: str, tree: Tree, ready_tree: Tree, probe_seconds: float) -> dict[str, Any]:
    port = free_port()
    cwd = (ready_tree if name == "run-ready" else tree).root
    paths = [tree.static_url, *picks_of(tree).values()]
    with Server(command(name, tree, ready_tree, port), cwd, port) as server:
        result: dict[str, Any] = {"ttfr": server.first_response(tree.static_url)}
        if name == "run-ready":
            # 503 until every file is imported: polled every 5 ms from the first response
            ready = server.served(READY, lambda status, _: status == 200, server.ready_at,
                                  limit=1800)
            if ready is None:
                raise RuntimeError("run-ready never became ready")
            result["ready"] = result["ttfr"] + ready
        else:
            result["ready"] = result["ttfr"]
        if probe_seconds:
            # Started again from the first response: the readiness wait above took its turn.
            started = time.perf_counter()
            result["waits"] = [took for _, took in probe(port, paths, probe_seconds, started)]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--models", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probe-seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fastapi-route-ready-") as scratch:
        tree = generate(args.size, Path(scratch) / "tree", models=args.models)
        shutil.copytree(tree.root, Path(scratch) / "ready")
        ready_tree = Tree(Path(scratch) / "ready", models=args.models)
        with (ready_tree.root / "config.py").open("a", encoding="utf-8") as config:
            config.write(HEALTH)
        for built in (tree, ready_tree):
            subprocess.run([PYTHON, "-m", "fastapi_route", "build", "--project",
                            str(built.root)], check=True, stdout=subprocess.DEVNULL)
        say(f"N={args.size}: {tree.files} route files, built")
        samples: dict[str, list[dict[str, Any]]] = {n: [] for n in NAMES}
        for number in range(args.rounds + 1):
            order = list(NAMES)
            random.shuffle(order)
            for name in order:
                taken = sample(name, tree, ready_tree, args.probe_seconds if number else 0)
                if number:
                    samples[name].append(taken)
                say(f"round {number}: {name} first response {taken['ttfr']:.2f} s, ready "
                    f"{taken['ready']:.2f} s")
    summary = summarize(samples, args.probe_seconds)
    print(report(summary, args))
    if args.json:
        args.json.write_text(json.dumps({"options": {k: str(v) for k, v in vars(args).items()},
                                         "summary": summary}, indent=2) + "\n")


def summarize(samples: dict[str, list[dict[str, Any]]], seconds: float
              ) -> dict[str, dict[str, float]]:
    summary: dict[str, dict[str, float]] = {}
    for name, rows in samples.items():
        numbers = {key: statistics.median(row[key] for row in rows) for key in ("ttfr", "ready")}
        waits = sorted(t for row in rows for t in row.get("waits", []))
        if waits:
            numbers.update(wait_median_ms=statistics.median(waits) * 1000,
                           wait_p99_ms=_percentile(waits, 0.99) * 1000,
                           wait_max_ms=waits[-1] * 1000,
                           requests_per_s=len(waits) / len(rows) / seconds)
        summary[name] = numbers
    return summary


def report(summary: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    floor = summary["floor"]
    lines = [f"N = {args.size} route files{' with models' if args.models else ''}, medians of "
             f"{args.rounds} rounds; waits: sequential GETs over the first "
             f"{args.probe_seconds:g} s after the first response",
             "",
             "| | first response | / floor | ready | / floor's first response | wait median "
             "/ p99 / max | requests/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in NAMES:
        row = summary[name]
        waits = (f"{row['wait_median_ms']:.1f} / {row['wait_p99_ms']:.1f} / "
                 f"{row['wait_max_ms']:.1f} ms" if "wait_max_ms" in row else "-")
        rate = f"{row['requests_per_s']:.0f}" if "requests_per_s" in row else "-"
        lines.append(f"| {name} | {row['ttfr']:.2f} s | {row['ttfr'] / floor['ttfr']:.2f}x | "
                     f"{row['ready']:.2f} s | {row['ready'] / floor['ttfr']:.2f}x | {waits} | "
                     f"{rate} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
