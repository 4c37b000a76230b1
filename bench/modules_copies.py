"""The cost of `sys.modules` copies (issue 19, item 4), in-process, on a built tree.

`create_app` (`--schedule warm`: every route file imported, as `run` does before it binds;
`eager`: every route registered too), then, with `--document`, the first `app.openapi()` as
`run` makes it (the heap frozen, full collections held back). Garbage collections are timed
apart (`gc.callbacks`), and the builtin signatures CPython parses (`inspect._signature_fromstr`,
each of which copies `sys.modules`) are counted.

    python bench/generate.py --models 10000 /tmp/tree-10000
    fastapi-route build --project /tmp/tree-10000
    python bench/modules_copies.py /tmp/tree-10000 --schedule eager --document

Run it once per version to compare (`PYTHONPATH` at each checkout).
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any


class Collections:
    """Seconds spent in garbage collections, by generation."""

    def __init__(self) -> None:
        self.seconds = {0: 0.0, 1: 0.0, 2: 0.0}
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path)
    parser.add_argument("--schedule", choices=("warm", "eager"), default="warm")
    parser.add_argument("--document", action="store_true", help="then the first app.openapi()")
    args = parser.parse_args()
    parsed = [0]
    fromstr = inspect._signature_fromstr  # type: ignore[attr-defined]

    def counted(*a: Any, **k: Any) -> Any:
        parsed[0] += 1
        return fromstr(*a, **k)

    inspect._signature_fromstr = counted  # type: ignore[attr-defined]
    collections = Collections()
    from fastapi_route.runtime.app import create_app
    from fastapi_route.runtime.openapi import FULL_COLLECTIONS_HELD

    started = time.perf_counter()
    app = create_app(args.tree, source="cache", schedule=args.schedule)
    result: dict[str, Any] = {
        "sys_modules": len(sys.modules),
        "create_app_s": round(time.perf_counter() - started, 2),
        "create_app_collections_s": round(sum(collections.seconds.values()), 2),
        "create_app_builtin_signatures": parsed[0],
    }
    if args.document:
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTIONS_HELD)
        before, young, count = time.perf_counter(), dict(collections.seconds), parsed[0]
        app.openapi()
        result["document_s"] = round(time.perf_counter() - before, 2)
        result["document_young_collections_s"] = round(
            sum(collections.seconds[g] - young[g] for g in (0, 1)), 2)
        result["document_builtin_signatures"] = parsed[0] - count
    print(json.dumps(result))


if __name__ == "__main__":
    main()
