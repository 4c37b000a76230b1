"""`run --lazy`'s first response against a one-route FastAPI app (issue 19 part 5): whole
processes on loopback, shuffled order in each round, medians and p90.

`--against DIR` adds `run --lazy` from another checkout of the library (a worktree of an
earlier commit), so a change is measured against what it changes in the same run:

    python bench/generate.py --models 1000 /tmp/m1k && fastapi-route build --project /tmp/m1k
    git worktree add /tmp/before HEAD~1
    python bench/lazy_start.py /tmp/m1k --models --rounds 15 --against /tmp/before
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import run as bench_run
from generate import Tree
from run import Server, contenders, free_port

HERE = str(Path(__file__).resolve().parent.parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path, help="a tree from bench/generate.py, built")
    parser.add_argument("--models", action="store_true", help="the tree is a --models one")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout whose `run --lazy` is measured too")
    args = parser.parse_args()
    tree = Tree(args.tree, models=args.models)
    library = {"lazy": HERE, "one-route": HERE}
    if args.against:
        library["lazy (--against)"] = str(args.against.resolve())
    own_env = bench_run.bench_env
    firsts: dict[str, list[float]] = {name: [] for name in library}
    # CPU time to the first response (Linux): the wall time's share that load cannot inflate
    cpus: dict[str, list[float]] = {name: [] for name in library}
    for number in range(args.rounds + 1):  # round 0 warms bytecode caches, not recorded
        order = list(library)
        random.shuffle(order)
        for name in order:
            def env(path: str = library[name]) -> dict[str, str]:
                values = own_env()
                values["PYTHONPATH"] = path
                return values
            bench_run.bench_env = env  # Server starts each process with bench_env()
            port = free_port()
            command = contenders(tree, port)["one-route" if name == "one-route" else "lazy"]
            with Server(command, tree.root, port) as server:
                took = server.first_response(tree.static_url)
                cpu = server.cpu_seconds()
            if number:
                firsts[name].append(took)
                if cpu is not None:
                    cpus[name].append(cpu)
    base = statistics.median(firsts["one-route"])
    cpu_base = statistics.median(cpus["one-route"]) if cpus["one-route"] else None
    print(f"{args.rounds} rounds, load average {os.getloadavg()[0]:.2f} at the end\n")
    print("| contender | median (ms) | p90 (ms) | / one-route | CPU to the first response, "
          "median (ms) | / one-route |\n|---|---:|---:|---:|---:|---:|")
    for name, times in firsts.items():
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        median = statistics.median(times)
        cpu_cells = "| - | -"
        if cpu_base and cpus[name]:
            cpu = statistics.median(cpus[name])
            cpu_cells = f"| {1000 * cpu:.0f} | {cpu / cpu_base:.2f}x"
        print(f"| {name} | {1000 * median:.0f} | {1000 * p90:.0f} | {median / base:.2f}x "
              f"{cpu_cells} |")


if __name__ == "__main__":
    main()
