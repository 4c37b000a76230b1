"""`dev` under a storm of saves (issue 17): folders deleted and renamed, files renamed, a file
broken and fixed, 80 changes in 5 s. A route nobody touches is polled throughout: it answers
the error page only while the tree really is broken (and then the page names only the broken
file), and once the storm is over the final tree is served.

In-process but otherwise real: the DevApp, the real watcher (`_watch`, watchfiles), and the
polling client share one event loop, as uvicorn and the watcher do in `fastapi-route dev`.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import write_tree

from fastapi_route.config import load_config
from fastapi_route.project import Project
from fastapi_route.runtime.devserver import DevApp, Watcher, _watch

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform == "win32", reason="renames of open folders")]

CHANGES = 80
SECONDS = 5.0
WAIT = 15.0  # the bound on waiting for the watcher, and for the final tree to be served
BROKEN = "routes/broken/route.py"
FILES_PER_FOLDER = 8  # a renamed folder's files are all new to the scan: parsing widens the race
FOLDERS = 12
BALLAST = 150  # more to walk on every scan


def _churn_folder(name: str) -> dict[str, str]:
    files = {f"routes/churn/{name}/route.py": f"""
        from .shared import LABEL

        def GET(request):
            return {{"churn": "{name}", "label": LABEL}}
    """, f"routes/churn/{name}/shared.py": 'LABEL = "ok"\n'}
    for k in range(FILES_PER_FOLDER - 1):
        files[f"routes/churn/{name}/s{k}/[item]/route.py"] = """
            def GET(request, item: str):
                return {"item": item}
        """
    return files


def _project(root: Path) -> Path:
    files = {
        "config.py": 'app_name = "churn"\n',
        "routes/steady/route.py": """
            def GET(request):
                return {"steady": True}
        """,
        BROKEN: """
            def GET(request):
                return {"broken": False}
        """,
    }
    for i in range(FOLDERS):
        files.update(_churn_folder(f"c{i:02}"))
    for i in range(BALLAST):
        files[f"routes/ballast/b{i:03}/route.py"] = f"""
            def GET(request):
                return {{"ballast": {i}}}
        """
    return write_tree(root, files)


def _replace(path: Path, text: str) -> None:
    """Save as most editors do: a temporary file renamed over the old one (a reader never sees
    it half written)."""
    temp = path.with_name(f".{path.name}.{time.monotonic_ns()}.tmp")
    temp.write_text(text)
    os.replace(temp, path)


class Storm:
    """The changes, and a model of the tree they leave: which churn folders exist and which
    of them still have their route file."""

    def __init__(self, root: Path, seed: int = 17) -> None:
        self.root = root
        self.churn = root / "routes" / "churn"
        self.random = random.Random(seed)
        self.folders = {f"c{i:02}": True for i in range(FOLDERS)}  # name -> has route.py
        self.gone: set[str] = set()  # names that were served once and are gone now
        self.broken = False
        self.made = 0

    def change(self, step: int) -> None:
        kind = self.random.choice(["rename", "rename", "delete", "create", "file", "break"])
        names = sorted(self.folders)
        if kind == "break":
            source = (f"def GET(request):\n    return {{'broken': {step}}}\n" if self.broken else
                      "def GET(request:\n")
            _replace(self.root / BROKEN, source)
            self.broken = not self.broken
        elif kind == "rename" and names:
            old = self.random.choice(names)
            new = f"r{step:03}"
            os.rename(self.churn / old, self.churn / new)
            self.folders[new] = self.folders.pop(old)
            self.gone.add(old)
        elif kind == "delete" and len(names) > 3:
            old = self.random.choice(names)
            shutil.rmtree(self.churn / old)
            del self.folders[old]
            self.gone.add(old)
        elif kind == "file" and names:
            name = self.random.choice(names)
            route, off = self.churn / name / "route.py", self.churn / name / "route.py.off"
            if self.folders[name]:
                os.rename(route, off)
            else:
                os.rename(off, route)
            self.folders[name] = not self.folders[name]
        else:
            name = f"n{step:03}"
            write_tree(self.root, _churn_folder(name))
            self.folders[name] = True
            self.gone.discard(name)
        self.made += 1

    def run(self, changes: int, seconds: float) -> None:
        started = time.monotonic()
        for step in range(changes):
            self.change(step)
            time.sleep(max(0.0, started + seconds * (step + 1) / changes - time.monotonic()))
        # The storm ends on a valid tree.
        _replace(self.root / BROKEN, "def GET(request):\n    return {'broken': 'fixed'}\n")
        self.broken = False

    def expected(self) -> dict[str, int]:
        """Each churn URL and the status the final tree gives it."""
        want = {f"/churn/{n}": 200 if has else 404 for n, has in self.folders.items()}
        want.update({f"/churn/{n}": 404 for n in self.gone if n not in self.folders})
        return want


_ITEM = re.compile(r"<li><strong>([A-Z_]+)</strong> <code>([^<]*)</code>")


@dataclass
class Seen:
    ok: int = 0
    real: int = 0  # the error page naming only the file the storm broke
    phantom: list[str] = field(default_factory=list)  # anything else, described

    def note(self, response: httpx.Response) -> None:
        if response.status_code == 200 and response.json() == {"steady": True}:
            self.ok += 1
            return
        items = _ITEM.findall(response.text)
        if (response.status_code == 500 and items
                and all(code == "SYNTAX_ERROR" and where.startswith(BROKEN)
                        for code, where in items)):
            self.real += 1
            return
        self.phantom.append(f"{response.status_code} {items or response.text[:200]}")

    def summary(self) -> str:
        return (f"/steady polled {self.ok + self.real + len(self.phantom)} times: {self.ok} "
                f"served, {self.real} real error pages, {len(self.phantom)} phantom ones "
                f"({len(set(self.phantom))} distinct)")


class _Server:
    should_exit = False


async def _storm(root: Path) -> tuple[Seen, Storm, dict[str, int]]:
    project = Project(root)
    config = load_config(root)
    dev = DevApp(project, config)
    dev.build()
    assert dev.app is not None and dev.error is None, dev.error
    stop = asyncio.Event()
    watching = asyncio.create_task(_watch(dev, Watcher(project, config), _Server(), stop))
    seen = Seen()
    storm = Storm(root)
    transport = httpx.ASGITransport(app=dev)
    async with httpx.AsyncClient(transport=transport, base_url="http://dev") as client:

        async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
            deadline = time.monotonic() + WAIT
            while not await check():
                if time.monotonic() > deadline:
                    raise AssertionError(f"not served within {WAIT} s: {what}\n{seen.summary()}")
                await asyncio.sleep(0.02)

        # The watcher is up once a new route is served (it may start after the first write).
        async def ready() -> bool:
            write_tree(root, {"routes/ready/route.py": "def GET(request):\n    return 1\n"})
            await asyncio.sleep(0.2)
            return (await client.get("/ready")).status_code == 200

        await until(ready, "/ready")
        done = asyncio.Event()

        async def poll() -> None:
            while not done.is_set():
                seen.note(await client.get("/steady"))
                await asyncio.sleep(0.003)

        polling = asyncio.create_task(poll())
        await asyncio.to_thread(storm.run, CHANGES, SECONDS)
        want = storm.expected()
        want["/broken"] = 200

        wrong: list[str] = []

        async def final() -> bool:
            wrong[:] = []
            for url, status in want.items():
                got = await client.get(url)
                if got.status_code != status:
                    wrong.append(f"{url}: {got.status_code}, not {status}: {got.text[:300]}")
            broken = await client.get("/broken")
            if broken.status_code == 200 and broken.json() != {"broken": "fixed"}:
                wrong.append(f"/broken: {broken.text}")
            return not wrong

        try:
            await until(final, "the final tree")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n" + "\n".join(wrong[:5])) from None
        await asyncio.sleep(0.2)  # a few more polls of the settled tree
        done.set()
        await polling
        got = {url: (await client.get(url)).status_code for url in want}
    stop.set()
    await asyncio.wait_for(watching, WAIT)
    return seen, storm, got


def test_a_storm_of_changes_shows_the_error_page_only_for_real_errors(tmp_path: Path) -> None:
    root = _project(tmp_path / "app")
    seen, storm, got = asyncio.run(_storm(root))
    print(f"{storm.made} changes; {seen.summary()}")
    assert storm.made == CHANGES
    assert seen.phantom == [], "\n".join([seen.summary(), *sorted(set(seen.phantom))[:5]])
    assert seen.ok > 0
    assert got == storm.expected() | {"/broken": 200}
