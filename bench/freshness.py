"""What the stale check costs at start (`run`, `run --strict`, the ASGI entry point, `status`).

For each tree size N (route files, made by bench/generate.py, then built), in-process, medians:

- walk: listing the route files and layouts (all the check did at start before 0.5: it saw
  added and removed files only);
- parse all: reading every file with `ast` (what `status` did before 0.5, and what a check
  without digests would have to do to see methods and signatures);
- check, fresh, hashed: the walk, and a digest of every file's bytes (a tree built right after
  it was written, or a wheel's: no file is stamped);
- check, fresh, stamped: the walk, and a `stat` of every file, whose times and size are what
  the build recorded (a tree last written more than 2 s before its build);
- check, 1 % bodies edited: the same after editing the handler bodies of 1 % of the files,
  which are then parsed again (and found fresh: a body needs no rebuild);
- cache load: reading and verifying the cache, for scale.

    python bench/freshness.py                      # N = 1000 and 10000, 7 repeats
    python bench/freshness.py --sizes 1000 --repeat 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from generate import edit_route, generate, static_files


def _median_ms(func: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(n: int, scratch: Path, repeat: int) -> dict[str, float]:
    from fastapi_route.config import load_config
    from fastapi_route.pipeline import cache as cache_io
    from fastapi_route.pipeline import freshness
    from fastapi_route.pipeline.build import build
    from fastapi_route.pipeline.scan import read_route_file
    from fastapi_route.pipeline.walk import walk

    tree = generate(n, scratch / f"tree-{n}")
    config = load_config(tree.root)
    build(tree.root, config)
    cache = cache_io.load(tree.root / ".cache", config.route_dir)

    def parse_all() -> None:
        for rel, folders in walk(tree.root, config).route_files:
            read_route_file(tree.root / rel, rel, folders)

    def fresh_check() -> None:
        assert not freshness.check(tree.root, config, cache).stale

    result = {
        "walk_ms": _median_ms(lambda: walk(tree.root, config), repeat),
        "parse_all_ms": _median_ms(parse_all, max(1, repeat // 2)),
        "check_fresh_ms": _median_ms(fresh_check, repeat),
        "cache_load_ms": _median_ms(
            lambda: cache_io.load(tree.root / ".cache", config.route_dir), repeat),
    }
    # The same tree built again once its files are more than 2 s old: every file stamped.
    time.sleep(2.1)
    build(tree.root, config)
    cache = cache_io.load(tree.root / ".cache", config.route_dir)
    assert len(cache.manifest.stamps) == len(cache.manifest.digests)
    result["check_stamped_ms"] = _median_ms(fresh_check, repeat)
    edited = static_files(tree)[: max(1, n // 100)]
    for _, rel in edited:
        edit_route(tree.root, rel, "edited")
    result["check_1pc_edited_ms"] = _median_ms(fresh_check, repeat)
    result["files"] = n
    return result


def report(results: list[dict[str, float]]) -> str:
    lines = ["| N | walk (before) | parse all (status before) | check, fresh, hashed | "
             "check, fresh, stamped | check, 1 % bodies edited | cache load |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['files']:.0f} | {r['walk_ms']:.1f} ms | {r['parse_all_ms']:.0f} ms | "
            f"{r['check_fresh_ms']:.1f} ms | {r['check_stamped_ms']:.1f} ms | "
            f"{r['check_1pc_edited_ms']:.1f} ms | {r['cache_load_ms']:.1f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fastapi-route-freshness-") as scratch:
        results = [measure(n, Path(scratch), args.repeat) for n in args.sizes]
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
