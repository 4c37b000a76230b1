"""Memory once every route is live (issue 19 part 5), as bench/run.py's memory row measures
it, for `run` before and after a change in one run: whole processes on loopback, RSS of the
serving process tree after the first `GET /openapi.json`, against the floor (plain FastAPI
over the same route files). Meanwhile a side prober asks live routes every 2 ms: its longest
waits, and where each ends relative to the document's answer (the document's long C calls end
about half a second before it; the rendering, the freeze and `collector.give_back`, just
before it).

`--against DIR` adds `run` from another checkout of the library (an earlier commit), in the
same rounds, in a shuffled order:

    git -C . archive HEAD~1 | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    python bench/memory_after.py 1000 --rounds 3 --against /tmp/before
    python bench/memory_after.py 10000 --rounds 1 --against /tmp/before   # about 8 minutes
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import run as bench_run
from generate import generate
from run import OPENAPI, OPENAPI_LIMIT, Server, SideProber, contenders, free_port, picks_of

HERE = str(Path(__file__).resolve().parent.parent)
NEAR_THE_ANSWER = 0.1  # seconds: a wait that ends this close to the answer is its tail


def sample(tree: Any, name: str, library: str) -> dict[str, Any]:
    def env() -> dict[str, str]:
        values = own_env()
        values["PYTHONPATH"] = library
        return values

    own_env = bench_run.bench_env
    bench_run.bench_env = env  # Server starts each process with bench_env()
    try:
        port = free_port()
        command = contenders(tree, port)["floor" if name == "floor" else "run"]
        with Server(command, tree.root, port) as server:
            server.first_response(tree.static_url)
            side = SideProber(port, [tree.static_url, *picks_of(tree).values()])
            side.start()
            time.sleep(0.05)
            started = time.perf_counter()
            status, _ = server.get(OPENAPI, timeout=OPENAPI_LIMIT)
            answered = time.perf_counter()
            time.sleep(0.05)
            side.stop()
            if status != 200:
                raise RuntimeError(f"{name}: {OPENAPI} answered {status}")
            time.sleep(bench_run.MEMORY_SETTLE)  # the peak is given back after the answer
            rss = bench_run._tree_status(server.proc.pid, "VmRSS") / 1024
    finally:
        bench_run.bench_env = own_env
    waits = [(took, at + took - answered) for at, took in side.samples
             if at < answered and at + took > started]
    tail = [took for took, end in waits if end >= -NEAR_THE_ANSWER]
    longest = max(waits, default=(0.0, 0.0))
    return {"rss": rss, "document": answered - started, "wait_max": longest[0],
            "wait_max_ends": longest[1], "tail_max": max(tail, default=0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", type=int, help="route files (bench/generate.py --models)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout whose `run` is measured too")
    args = parser.parse_args()
    library = {"floor": HERE, "run": HERE}
    if args.against:
        library["run (--against)"] = str(args.against.resolve())
    with tempfile.TemporaryDirectory(prefix="fastapi-route-memory-") as scratch:
        tree = generate(args.size, Path(scratch) / "tree", models=True)
        subprocess.run([sys.executable, "-m", "fastapi_route", "build", "--project",
                        str(tree.root)], check=True, capture_output=True)
        # bytecode cached, as after a first start on a user's machine
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree.root)], check=True)
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in library}
        for number in range(args.rounds):
            order = list(library)
            random.shuffle(order)
            for name in order:
                got = sample(tree, name, library[name])
                samples[name].append(got)
                print(f"round {number + 1} {name}: RSS {got['rss']:.1f} MiB, document "
                      f"{got['document']:.2f} s, longest wait {1000 * got['wait_max']:.0f} ms "
                      f"(ends {1000 * got['wait_max_ends']:+.0f} ms from the answer), "
                      f"longest near the answer {1000 * got['tail_max']:.0f} ms", flush=True)
    floor = statistics.median(s["rss"] for s in samples["floor"])
    print("\n| contender | RSS after /openapi.json (MiB) | / floor | longest wait (ms), "
          "each round | near the answer (ms) |\n|---|---:|---:|---|---|")
    for name, got in samples.items():
        rss = statistics.median(s["rss"] for s in got)
        longest, tail = (", ".join(f"{1000 * s[key]:.0f}" for s in got)
                         for key in ("wait_max", "tail_max"))
        print(f"| {name} | {rss:.1f} | {rss / floor:.3f}x | {longest} | {tail} |")


if __name__ == "__main__":
    main()
