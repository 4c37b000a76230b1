"""What `dev`'s reload holds the event loop for, in-process (issue 19 part 4): `DevApp.reload`
as the watcher runs it (worker thread, swap, collection), on a `--models` tree, with an
untouched route asked over ASGI every 2 ms and the saved URL polled every 5 ms; asyncio's
debug mode logs every step of the loop longer than 4 ms (which task, which line).

    python bench/generate.py --models 10000 /tmp/m10k
    python bench/dev_loop.py /tmp/m10k      # edits files and adds folders in that tree
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from generate import edit_route, new_route

from fastapi_route.config import load_config
from fastapi_route.project import find_project
from fastapi_route.runtime.devserver import DevApp, _forget_bytecode


async def get(app: Any, path: str) -> int:
    status = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    await app({"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
               "root_path": "", "query_string": b"", "headers": [], "scheme": "http",
               "server": ("bench", 80), "client": ("bench", 1), "http_version": "1.1",
               "asgi": {"version": "3.0"}}, receive, send)
    return status[0]


async def main(root: Path, samples: int) -> None:
    project = find_project(root)
    dev = DevApp(project, load_config(project.root), freeze=True)  # as the dev command
    dev.build()
    dev.facts.track()
    await dev.reload()  # the full one as the watcher starts
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 0.004
    files = sorted(p.relative_to(root).as_posix() for p in (root / "routes").rglob("route.py")
                   if "[" not in p.as_posix())
    untouched = "/area0/res0"
    assert await get(dev, untouched) == 200
    waits: list[tuple[float, float]] = []
    stop = False

    async def prober() -> None:
        while not stop:
            asked = time.perf_counter()
            await get(dev, untouched)
            waits.append((asked, time.perf_counter() - asked))
            await asyncio.sleep(0.002)

    probing = asyncio.create_task(prober())
    for k in range(samples):
        for kind in ("edit", "new folder"):
            await asyncio.sleep(0.3)
            if kind == "edit":
                rel = files[(k + 1) * len(files) // (samples + 1)]
                url = "/" + "/".join(x for x in Path(rel).parent.parts[1:]
                                     if not x.startswith("("))
                edit_route(root, rel, f"loop{k}{time.time()}")
                changed = {str(root / rel)}
            else:
                url = new_route(root, f"loop{k}_{int(time.time() * 1000)}", True)
                changed = {str(root / "routes" / url.strip("/").split("/")[0])}
            _forget_bytecode(changed)
            saved = time.perf_counter()
            print(f"--- {kind}", flush=True)
            await dev.reload(changed)
            while await get(dev, url) != 200:
                await asyncio.sleep(0.005)
            done = time.perf_counter()
            during = [w for t, w in waits if saved <= t <= done]
            print(f"{kind}: served in {1000 * (done - saved):.0f} ms, the untouched route's "
                  f"worst wait {1000 * max(during, default=0.0):.1f} ms", flush=True)
    stop = True
    await probing


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3))
