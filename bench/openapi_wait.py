"""Latency of live-route requests while the first /openapi.json is made (issue 17).

For each tree size N (bench/generate.py) and each contender (plain FastAPI, `fastapi-route
run` during its warm-up, `run --eager`), whole processes on loopback, interleaved in shuffled
order per round:

1. start the server and wait for its first response (a static route);
2. request each probed route once, so that every one of them is live (in `run`: registered);
3. start a client thread sending sequential GETs on one keep-alive connection, cycling
   through those routes (the static route and three dynamic ones, start/middle/end);
4. `--after` seconds later, GET /openapi.json on another connection, the first of the
   process, and time it;
5. the requests under way at any moment while the document was made are the sample: their
   median, p99 and max latency, pooled over the rounds, next to how long the document took.

For `run`, step 4 falls inside the warm-up: the document needs every route registered first.
Every contender prints the same document size (checked: same number of paths as the floor's).

    python bench/openapi_wait.py --sizes 1000 5000 --rounds 3 --json openapi-wait.json
    python bench/openapi_wait.py --models --sizes 1000 10000 --rounds 2

`--models` writes the models tree (issue 19: a pydantic body model in every route file).

Run it with the library you mean to measure importable: the servers are started with this
process's environment (PYTHONPATH included) and interpreter.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from generate import Tree, generate
from run import (
    OPENAPI,
    PYTHON,
    Server,
    SideProber,
    _git_head,
    _latency_stats,
    contenders,
    free_port,
    picks_of,
    say,
)

NAMES = ["floor", "run", "run-eager"]


def sample(tree: Tree, name: str, after: float) -> dict[str, Any]:
    port = free_port()
    paths = [tree.static_url, *picks_of(tree).values()]
    with Server(contenders(tree, port)[name], tree.root, port) as server:
        server.first_response(tree.static_url)
        for path in paths:
            if server.get(path, 60)[0] != 200:
                raise RuntimeError(f"{name}: {path} not served")
        prober = SideProber(port, paths, pause=0)  # back to back: every wait counts
        prober.start()
        time.sleep(after)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        asked = time.perf_counter()
        connection.request("GET", OPENAPI)
        response = connection.getresponse()
        body = response.read()
        answered = time.perf_counter()
        connection.close()
        time.sleep(0.05)  # the request under way when the document came back finishes
        prober.stop()
        if response.status != 200:
            raise RuntimeError(f"{name}: {OPENAPI} answered {response.status}")
        # where the worst waits fell: seconds after the request (the fork, the document's
        # calls) or before the answer (its bytes served)
        worst = sorted(((took, at - asked, answered - at) for at, took in prober.samples
                        if at < answered and at + took > asked), reverse=True)[:5]
        return {"openapi_s": answered - asked, "during": prober.during(asked, answered),
                "worst": [[round(x, 4) for x in w] for w in worst],
                "paths": len(json.loads(body)["paths"]),
                "since_first_response_s": asked - server.ready_at}


def measure(tree: Tree, names: list[str], rounds: int, after: float) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for round_number in range(rounds + 1):  # round 0 warms bytecode caches, not recorded
        order = names[:]
        random.shuffle(order)
        for name in order:
            s = sample(tree, name, after)
            if round_number:
                samples[name].append(s)
                say(f"N={tree.files} {name}: document {s['openapi_s']:.2f} s, "
                    f"{len(s['during'])} requests meanwhile, max "
                    f"{max(s['during'], default=0) * 1000:.0f} ms; worst (s waited, s after "
                    f"the request, s before the answer): {s['worst']}")
    out: dict[str, Any] = {}
    for name, ss in samples.items():
        counts = {s["paths"] for s in ss}
        stats = _latency_stats([t for s in ss for t in s["during"]], len(ss))
        out[name] = {**stats, "openapi_s": statistics.median(s["openapi_s"] for s in ss),
                     "openapi_s_all": [s["openapi_s"] for s in ss], "paths": sorted(counts),
                     "worst": [s["worst"] for s in ss]}
    floor_paths = out.get("floor", {}).get("paths")
    for name, r in out.items():
        if floor_paths and r["paths"] != floor_paths:
            raise RuntimeError(f"{name}: {r['paths']} paths in the document, floor "
                               f"{floor_paths}")
    return out


def report(results: dict[str, Any]) -> str:
    lines = [f"Commit {results['commit']}; load average {results['load_average']}", "",
             "| N | contender | /openapi.json (s, median) | requests meanwhile per round "
             "| median (ms) | p99 (ms) | max (ms) |", "|---|---|---|---|---|---|---|"]
    for n, by_name in results["sizes"].items():
        for name, r in by_name.items():
            cells = [f"{r[k]:.2f}" if k in r else "-" for k in ("median_ms", "p99_ms", "max_ms")]
            lines.append(f"| {n} | {name} | {r['openapi_s']:.2f} | "
                         f"{r['requests_per_round']:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--after", type=float, default=0.2,
                        help="seconds of probing before /openapi.json is asked (default 0.2)")
    parser.add_argument("--contenders", nargs="+", default=NAMES, choices=NAMES)
    parser.add_argument("--models", action="store_true",
                        help="route files with pydantic models (bench/generate.py --models)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {"commit": _git_head(), "python": PYTHON,
                               "switch_interval_s": sys.getswitchinterval(),
                               "options": {k: str(v) for k, v in vars(args).items()},
                               "load_average": [round(x, 2) for x in os.getloadavg()],
                               "sizes": {}}
    say(f"commit {results['commit']}")
    with tempfile.TemporaryDirectory(prefix="fastapi-route-openapi-") as scratch:
        for n in args.sizes:
            tree = generate(n, Path(scratch) / f"tree-{n}", models=args.models)
            subprocess.run([PYTHON, "-m", "fastapi_route", "build", "--project",
                            str(tree.root)], check=True, stdout=subprocess.DEVNULL)
            say(f"N={n}: {tree.files} route files written and built")
            results["sizes"][str(n)] = measure(tree, args.contenders, args.rounds, args.after)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    say("done")


if __name__ == "__main__":
    main()
