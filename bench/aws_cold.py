"""AWS Lambda cold start (SPEC 14.3): `fastapi_route.aws.handler` on a tree of N route files
against a one-route FastAPI app behind Mangum, a fresh process per sample.

A cold Lambda instance starts an interpreter, imports the function's handler module (the init
phase) and hands it the first event; both are billed. Each sample does the same in a new
process, with the bench's own stand-in for the runtime (`CHILD`): import the handler's module,
call it with an HTTP API (payload 2.0) event for the same static URL, print the answer.

- `one-route`: `Mangum(app)` over bench/generate.py's `one_app.py` (plain FastAPI, one route:
  the least a FastAPI function costs);
- `aws`: `fastapi_route.aws.handler`, FASTAPI_ROUTE_PROJECT naming the built tree (its default
  schedule, lazy: the event imports the one route file it needs).

Measured, per sample: "cold start", from just before the parent starts the process to the
moment the child has the answer (the child stamps it with time.perf_counter, the same
monotonic clock as the parent's on Linux, so the parent's reading of the pipe is not counted;
the interpreter's own start is, as Lambda's runtime start is); inside it, "init" (the
handler's import) and "first event" (the handler's first call); and the child's CPU time
from its start to the answer (time.process_time), which another process on the machine
disturbs less than wall time (the rusage of the whole process, its exit included, and its
waits are in the JSON). Rounds are interleaved in a
shuffled order; round 0 writes the bytecode caches (users' machines keep them; the bench
unsets PYTHONDONTWRITEBYTECODE for both) and is not recorded.

    python bench/aws_cold.py --size 1000 --rounds 30 --json docs/performance-aws-cold.json
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from generate import Tree, generate
from run import PYTHON, _percentile, bench_env, say

NAMES = ("one-route", "aws")
HANDLER_MODULE = {"one-route": "one_lambda", "aws": "fastapi_route.aws"}
ONE_LAMBDA = "from mangum import Mangum\n\nfrom one_app import app\n\nhandler = Mangum(app)\n"

# The runtime's part: import the handler module (init), call it once (the first event).
CHILD = """
import time
started = time.perf_counter()
import importlib, json, sys
handler = importlib.import_module(sys.argv[1]).handler
imported = time.perf_counter()
answer = handler(json.loads(sys.argv[2]), None)
answered = time.perf_counter()
cpu = time.process_time()  # the process's CPU time since it started
print(json.dumps({"started": started, "imported": imported, "answered": answered, "cpu": cpu,
                  "status": answer["statusCode"], "body": answer["body"]}), flush=True)
"""


def http_api_event(path: str) -> dict[str, Any]:
    """An HTTP API (payload 2.0) GET, as API Gateway sends it."""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "abc123.execute-api.eu-central-1"
                    ".amazonaws.com", "user-agent": "bench", "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "stage": "$default",
            "domainName": "abc123.execute-api.eu-central-1.amazonaws.com",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "bench"},
            "requestId": "bench", "routeKey": "$default", "time": "04/Dec/2026:13:37:21 +0000",
            "timeEpoch": 1796391441000},
        "isBase64Encoded": False,
    }


def sample(name: str, tree: Tree) -> dict[str, float]:
    env = bench_env()
    if name == "aws":
        env["FASTAPI_ROUTE_PROJECT"] = str(tree.root)
    event = json.dumps(http_api_event(tree.static_url))
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    begun = time.perf_counter()
    proc = subprocess.run([PYTHON, "-c", CHILD, HANDLER_MODULE[name], event], cwd=tree.root,
                          env=env, capture_output=True, text=True, check=False, timeout=120)
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{proc.stderr}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if got["status"] != 200:
        raise RuntimeError(f"{name} answered {got['status']}: {got['body']}")
    return {"cold": got["answered"] - begun, "init": got["imported"] - got["started"],
            "event": got["answered"] - got["imported"],
            "cpu": got["cpu"],  # to the answer, as the child counts it
            # the whole process's, its exit included
            "cpu_total": now.ru_utime - used.ru_utime + now.ru_stime - used.ru_stime,
            # waits for something (a disk read, a lock): where wall time goes beyond CPU time
            "voluntary_switches": now.ru_nvcsw - used.ru_nvcsw,
            "blocks_read": now.ru_inblock - used.ru_inblock}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--models", action="store_true")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fastapi-route-aws-") as scratch:
        tree = generate(args.size, Path(scratch) / "tree", models=args.models)
        (tree.root / f"{HANDLER_MODULE['one-route']}.py").write_text(ONE_LAMBDA)
        subprocess.run([PYTHON, "-m", "fastapi_route", "build", "--project", str(tree.root)],
                       check=True, env=bench_env(), stdout=subprocess.DEVNULL)
        say(f"N={args.size}: {tree.files} route files, built")
        samples: dict[str, list[dict[str, float]]] = {n: [] for n in NAMES}
        for number in range(args.rounds + 1):
            order = list(NAMES)
            random.shuffle(order)
            for name in order:
                taken = sample(name, tree)
                if number:
                    samples[name].append(taken)
            if number % 10 == 0:
                say(f"round {number}: " + ", ".join(
                    f"{n} {samples[n][-1]['cold'] * 1000:.0f} ms" for n in NAMES if samples[n]))
    summary = summarize(samples)
    print(report(summary, args))
    if args.json:
        args.json.write_text(json.dumps({
            "options": {k: str(v) for k, v in vars(args).items()},
            "python": sys.version.split()[0], "summary": summary,
            "samples": samples}, indent=2) + "\n")


def summarize(samples: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    summary: dict[str, dict[str, float]] = {}
    for name, rows in samples.items():
        numbers: dict[str, float] = {}
        for key in ("cold", "init", "event", "cpu"):
            ordered = sorted(row[key] for row in rows)
            numbers[f"{key}_median_ms"] = statistics.median(ordered) * 1000
            numbers[f"{key}_p90_ms"] = _percentile(ordered, 0.9) * 1000
            numbers[f"{key}_max_ms"] = ordered[-1] * 1000
        summary[name] = numbers
    for numbers in summary.values():
        for key in ("cold", "cpu"):
            numbers[f"{key}_ratio"] = (numbers[f"{key}_median_ms"]
                                       / summary["one-route"][f"{key}_median_ms"])
    return summary


def report(summary: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    lines = [f"Cold start, N = {args.size} route files{' with models' if args.models else ''}"
             f", {args.rounds} interleaved rounds: median / p90 / max, ms",
             "",
             "| | cold start | / one-route | init (handler import) | first event | CPU time "
             "| / one-route |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in NAMES:
        row = summary[name]
        cold, init, event, cpu = (
            " / ".join(f"{row[f'{key}_{stat}_ms']:.0f}" for stat in ("median", "p90", "max"))
            for key in ("cold", "init", "event", "cpu"))
        lines.append(f"| {name} | {cold} | {row['cold_ratio']:.2f}x | {init} | {event} | "
                     f"{cpu} | {row['cpu_ratio']:.2f}x |")
    lines += ["", "Ratios: of the medians. CPU time: the child's user + system time from its "
              "start to the answer (on a shared machine, steadier than wall time)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
