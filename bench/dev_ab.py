"""`dev` save -> served, and an untouched route's worst wait during it (issue 19 part 4):
this checkout against another, whole `dev` processes (bench/run.py's `measure_dev_reload`),
the two interleaved round by round, order alternating, so that the load of a shared machine
falls on both. Each round starts `dev` on a fresh copy of a `--models` tree and waits
`--settle` seconds (the full reload `dev` makes as its watcher starts) before its saves.

    git -C /path/to/repo archive <before-commit> | tar -x -C /tmp/before
    python bench/dev_ab.py --files 10000 --rounds 6 --per-round 4 --against /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from generate import generate
from run import measure_dev_reload

HERE = str(Path(__file__).resolve().parent.parent)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 4),
            "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 4),
            "max": round(ordered[-1], 4), "n": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=4)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--against", type=Path, required=True,
                        help="another checkout of the library (the 'before')")
    args = parser.parse_args()
    sides = {"before": str(args.against.resolve()), "after": HERE}
    got: dict[str, dict[str, list[float]]] = {
        side: {"edit": [], "new_folder": [], "edit_wait": [], "new_folder_wait": []}
        for side in sides}
    loads: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        tree = generate(args.files, Path(scratch) / f"tree-{args.files}", models=True)
        for round_number in range(args.rounds):
            order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
            for side in order:
                os.environ["PYTHONPATH"] = sides[side]  # the dev process imports this one
                loads.append(os.getloadavg()[0])
                result = measure_dev_reload(tree, Path(scratch), 1, args.per_round,
                                            settle_first=args.settle)
                for kind in ("edit", "new_folder"):
                    got[side][kind] += [v for v in result["samples"][kind] if v is not None]
                    got[side][f"{kind}_wait"] += result["untouched_worst_wait_s"][kind]
                print(f"round {round_number} {side}: load {loads[-1]:.2f} "
                      + json.dumps({k: [round(v, 3) for v in vs]
                                    for k, vs in got[side].items()}), flush=True)
    report: dict[str, Any] = {"load": {"min": min(loads), "max": max(loads),
                                       "median": statistics.median(loads)}}
    for side, kinds in got.items():
        report[side] = {kind: _summary(values) for kind, values in kinds.items() if values}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
