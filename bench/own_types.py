"""What a project's own segment type (SPEC 14.1) costs a request: a route's `matches()` at a
`[color=hex]` (its pattern, then its `match`), beside a built-in `[n=int]` and a plain `[name]`.

In-process, on a small project written to a temporary folder; the best of 5 runs of N calls.

    python bench/own_types.py            # N = 200000
    python bench/own_types.py --calls 50000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from fastapi_route.project import from_path
from fastapi_route.runtime.app import create_app

FILES = {
    "params/hex.py": 'pattern = "[0-9a-fA-F]{6}"\n\ndef match(value):\n    return True\n',
    "routes/own/[color=hex]/route.py": "def GET(request, color):\n    return color\n",
    "routes/builtin/[n=int]/route.py": "def GET(request, n):\n    return n\n",
    "routes/plain/[name]/route.py": "def GET(request, name):\n    return name\n",
}
CASES = [("/own/{color:hex}", "/own/ff00aa"), ("/builtin/{n:int}", "/builtin/12"),
         ("/plain/{name}", "/plain/abc")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for rel, text in FILES.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        app = create_app(from_path(root), source="scan")
        with TestClient(app) as client:
            assert client.get("/own/ff00aa").status_code == 200  # made real
            routes = {getattr(r, "path", None): r for r in app.router.routes}
            for path, url in CASES:
                route = routes[path]
                scope = {"type": "http", "path": url, "method": "GET", "root_path": ""}
                best = float("inf")
                for _ in range(5):
                    started = time.perf_counter()
                    for _ in range(calls):
                        route.matches(scope)
                    best = min(best, (time.perf_counter() - started) / calls)
                print(f"{path:20} matches(): {best * 1e9:6.0f} ns")


if __name__ == "__main__":
    main()
