"""The OpenAPI document made at build (issue 19, SPEC 13.2): what it adds to `build`, and what
`run`'s first /openapi.json costs when it serves it.

For each size N, on the models tree (`bench/generate.py --models`), whole processes:

1. `fastapi-route build --force` without the document, then with `build = {"openapi": True}`
   (the same tree; the second one also starts the child process that imports the app and
   makes the document): the difference is what the document adds;
2. `fastapi-route run` (its warm-up under way) and `run --eager`: the first response (a
   static route), then the first /openapi.json, timed from the request to the last byte and
   checked byte for byte against openapi.json (read, hashed, sent), then a second one (sent),
   while a second client sends GETs to a live route 2 ms apart (its worst wait, and the worst
   in the half second before, as a baseline);
3. in a fresh interpreter, the app `run` makes (`create_app`, no lifespan, so no warm-up):
   GET /openapi.json in-process, how long it takes, and how many routes became real (none:
   the stored bytes are served without registering a route).

    python bench/openapi_baked.py --sizes 1000 10000 --json docs/performance-openapi-baked.json

Run it with the library you mean to measure importable (PYTHONPATH): the processes are
started with this interpreter and environment.
"""

from __future__ import annotations

import argparse
import json
import os
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
    bench_env,
    contenders,
    free_port,
    say,
)

SIDE_BEFORE = 0.5  # seconds of the side probe before the first /openapi.json: the baseline

IN_PROCESS = """
import json, sys, time
from fastapi.testclient import TestClient
from fastapi_route.runtime.app import create_app, runtime_of
started = time.perf_counter()
app = create_app(sys.argv[1])
made = time.perf_counter()
response = TestClient(app).get("/openapi.json")
answered = time.perf_counter()
lazy = runtime_of(app).file_routes.lazy
print(json.dumps({"create_app_s": made - started, "openapi_s": answered - made,
                  "status": response.status_code, "bytes": len(response.content),
                  "routes": len(lazy), "made_real": sum(r.real is not None for r in lazy)}))
"""


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=bench_env(), capture_output=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command}: exit {done.returncode}\n{done.stderr.decode()[-2000:]}")
    return took


def builds(tree: Tree, rounds: int) -> dict[str, Any]:
    """Median seconds of whole `build --force` processes without and with the document."""
    build = [PYTHON, "-m", "fastapi_route", "build", "--force", "--project", str(tree.root)]
    config = tree.root / "config.py"
    plain = 'app_name = "bench"\n'
    times: dict[str, list[float]] = {"plain_s": [], "with_document_s": []}
    for _ in range(rounds):
        config.write_text(plain, encoding="utf-8")
        times["plain_s"].append(timed(build, tree.root))
        config.write_text(plain + 'build = {"openapi": True}\n', encoding="utf-8")
        times["with_document_s"].append(timed(build, tree.root))
    out: dict[str, Any] = {k: statistics.median(v) for k, v in times.items()}
    out["all"] = times
    out["document_adds_s"] = out["with_document_s"] - out["plain_s"]
    out["document_bytes"] = (tree.root / ".cache" / "openapi.json").stat().st_size
    return out


def run_first_document(tree: Tree, contender: str) -> dict[str, Any]:
    """`run`'s (or `run --eager`'s) first response, then its first /openapi.json (the baked
    bytes: read, checked against its hash, sent), then a second one (only sent)."""
    port = free_port()
    stored = (tree.root / ".cache" / "openapi.json").read_bytes()
    took, worst = [], []
    with Server(contenders(tree, port)[contender], tree.root, port) as server:
        first = server.first_response(tree.static_url)
        side = SideProber(port, [tree.static_url])  # a live route, meanwhile
        side.start()
        time.sleep(SIDE_BEFORE)
        before = time.perf_counter()
        for _ in range(2):
            asked = time.perf_counter()
            status, body = server.get(OPENAPI, 600)
            answered = time.perf_counter()
            took.append(answered - asked)
            worst.append(max(side.during(asked, answered), default=0.0))
            if status != 200 or body != stored:
                raise RuntimeError(f"{contender} answered {status}, {len(body)} bytes, not "
                                   f"the stored {len(stored)}")
        side.stop()
    return {"first_response_s": first, "first_openapi_s": took[0],
            "second_openapi_s": took[1], "bytes": len(stored),
            "live_route_worst_ms": {"before": max(side.during(before - SIDE_BEFORE, before),
                                                  default=0.0) * 1000,
                                    "first": worst[0] * 1000, "second": worst[1] * 1000}}


def in_process(tree: Tree) -> dict[str, Any]:
    done = subprocess.run([PYTHON, "-c", IN_PROCESS, str(tree.root)], env=bench_env(),
                          capture_output=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--rounds", type=int, default=1, help="builds of each kind per size")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {"commit": _git_head(), "load_average": os.getloadavg(),
                               "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="fastapi-route-bench-") as work:
        for n in args.sizes:
            tree = generate(n, Path(work) / f"tree-{n}", models=True)
            say(f"N={n}: building without and with the document")
            built = builds(tree, args.rounds)
            say(f"N={n}: build {built['plain_s']:.2f} s, with the document "
                f"{built['with_document_s']:.2f} s ({built['document_bytes']} bytes)")
            served = {name: run_first_document(tree, name) for name in ("run", "run-eager")}
            for name, r in served.items():
                w = r["live_route_worst_ms"]
                say(f"N={n}: {name}: first response {r['first_response_s']:.2f} s, first "
                    f"/openapi.json {r['first_openapi_s'] * 1000:.0f} ms, second "
                    f"{r['second_openapi_s'] * 1000:.0f} ms; a live route's worst wait "
                    f"{w['first']:.1f} / {w['second']:.1f} ms ({w['before']:.1f} ms before)")
            inside = in_process(tree)
            say(f"N={n}: in-process /openapi.json {inside['openapi_s'] * 1000:.0f} ms, "
                f"{inside['made_real']} of {inside['routes']} routes made real")
            results["sizes"][str(n)] = {"build": built, "run": served, "in_process": inside}
            if args.json is not None:  # after each size: a long run keeps what it measured
                args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    results["load_average_after"] = os.getloadavg()
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
