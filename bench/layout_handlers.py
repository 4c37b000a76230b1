"""What a layout's `exception_handlers` cost a request (SPEC 14.2), in process, no network.

One tree, four routes of one handler each, called as ASGI apps (the whole app: middleware,
dispatch, the route) in rounds, the routes in a new random order each round; the median over
rounds of the time per request of each:

- `plain`: a route below no layout with handlers, returning a dict;
- `below`: the same below a layout with handlers, nothing raised (what every request pays);
- `folder`: a route raising an exception its layout's handler answers;
- `app`: a route raising one app.py's handler answers (FastAPI's own path, for comparison).

Then the wrapper alone (`runtime.handlers.Handled`) around an ASGI app that only answers,
against that app bare: what a request below a layout with handlers pays when nothing is
raised, without the rest of the app's noise.

    python bench/layout_handlers.py --requests 1000 --rounds 21
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROUTE = """
def GET(request):
    {body}
"""

TREE = {
    "app.py": """
        from fastapi.responses import JSONResponse


        class AppError(Exception):
            pass


        async def _app_error(request, exc):
            return JSONResponse({"by": "app"}, status_code=409)


        exception_handlers = {AppError: _app_error}
    """,
    "routes/plain/route.py": ROUTE.format(body="return {'ok': True}"),
    "routes/handled/_layout.py": """
        from fastapi.responses import JSONResponse


        class FolderError(Exception):
            pass


        async def _folder_error(request, exc):
            return JSONResponse({"by": "folder"}, status_code=409)


        exception_handlers = {FolderError: _folder_error, 404: _folder_error}
    """,
    "routes/handled/below/route.py": ROUTE.format(body="return {'ok': True}"),
    "routes/handled/folder/route.py": "from .._layout import FolderError\n" + ROUTE.format(
        body="raise FolderError()"),
    "routes/app/route.py": "from ...app import AppError\n" + ROUTE.format(
        body="raise AppError()"),
}
URLS = {"plain": "/plain", "below": "/handled/below", "folder": "/handled/folder",
        "app": "/app"}


def write(root: Path) -> None:
    for rel, text in TREE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


async def call(app: Any, path: str) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"bench")],
             "client": ("127.0.0.1", 1), "server": ("bench", 80), "state": {}}
    await app(scope, receive, send)
    return status


async def measure(app: Any, requests: int, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in URLS}
    for name, url in URLS.items():  # every route registered, and its answer checked
        assert await call(app, url) == (200 if name in ("plain", "below") else 409), name
    order = list(URLS.items())
    for _ in range(rounds):
        random.shuffle(order)  # the machine's drift falls on each route alike
        for name, url in order:
            started = time.perf_counter()
            for _ in range(requests):
                await call(app, url)
            times[name].append((time.perf_counter() - started) / requests)
    return {name: statistics.median(t) for name, t in times.items()}


async def wrapper_cost(calls: int, rounds: int) -> tuple[float, float]:
    """Median seconds per call of a bare ASGI app and of the same inside `Handled`."""
    from fastapi_route.runtime.handlers import Handled, Handlers

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def handler(request: Any, exc: Exception) -> None:
        return None

    handled = Handled(bare, [Handlers.of("_layout.py", {KeyError: handler, 404: handler})])

    async def nothing(message: Any) -> None:
        return None

    times: dict[str, list[float]] = {"bare": [], "handled": []}
    order: list[tuple[str, Any]] = [("bare", bare), ("handled", handled)]
    for _ in range(rounds):
        random.shuffle(order)
        for name, app in order:
            started = time.perf_counter()
            for _ in range(calls):
                await app({"type": "http"}, None, nothing)
            times[name].append((time.perf_counter() - started) / calls)
    return statistics.median(times["bare"]), statistics.median(times["handled"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per route and round")
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    from fastapi_route.runtime.app import create_app

    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "app"
        write(root)
        app = create_app(root, source="scan", schedule="eager")
        medians = asyncio.run(measure(app, args.requests, args.rounds))
    for name, seconds in medians.items():
        print(f"{name:<7} {seconds * 1e6:8.1f} µs/request")
    bare, handled = asyncio.run(wrapper_cost(args.requests * 20, args.rounds))
    print(f"the wrapper alone: {(handled - bare) * 1e6:+.2f} µs/request "
          f"({bare * 1e6:.2f} bare, {handled * 1e6:.2f} inside Handled)")


if __name__ == "__main__":
    main()
