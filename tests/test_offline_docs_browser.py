"""Offline docs in a real browser with the network off (SPEC 14.5): headless Chromium from the
OS packages against `fastapi-route run` on loopback. Swagger UI and ReDoc render every
operation, and no request the page makes leaves the machine; FastAPI's own pages, in the same
browser, stay blank (so the test would see a CDN the offline pages still needed).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_tree

from tests.browser import CHROMIUM, WHY_NOT, WINDOW, Chromium, Page
from tests.servers import Server, run_args, run_cli, start_server

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=WHY_NOT)]

ROUTES = {
    "routes/items/route.py": (
        "def GET(request):\n    '''List the items.'''\n    return []\n\n\n"
        "def POST(request):\n    '''Add an item.'''\n    return {}\n"
    ),
    "routes/items/[item_id]/route.py": (
        "def GET(request, item_id: int):\n    '''Read one item.'''\n    return {'id': item_id}\n"
    ),
}
OPERATIONS = ("List the items", "Add an item", "Read one item")
# What a page may ask for without the network: the app, and what the page makes itself.
LOCAL = ("data:", "blob:http://127.0.0.1:")


@contextlib.contextmanager
def served(tmp_path: Path, config: str) -> Iterator[Server]:
    root = write_tree(tmp_path / "app", {**ROUTES, "config.py": config})
    built = run_cli(["build", "--project", str(root)], cwd=tmp_path)
    assert built.returncode == 0, built.stdout
    with start_server(run_args(root), cwd=tmp_path, ready_path="/openapi.json") as server:
        yield server


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[Server]:
    with served(tmp_path, 'app_name = "Shop"\ndocs = {"offline": True}\n') as server:
        yield server


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    with Chromium(tmp_path / "profile") as chromium:
        yield chromium


def left_the_machine(page: Page, port: int) -> list[str]:
    """The URLs the page sent anywhere but to the app (the browser sends none it refused)."""
    app = f"http://127.0.0.1:{port}/"
    return [url for url in page.sent if not url.startswith((app, *LOCAL))]


def test_swagger_ui_renders_every_operation_offline(offline: Server, browser: Chromium,
                                                     tmp_path: Path) -> None:
    page = browser.open(f"http://127.0.0.1:{offline.port}/docs")
    assert page.wait_for("document.querySelectorAll('.opblock').length") == len(OPERATIONS)
    text = page.text()
    assert all(summary in text for summary in OPERATIONS), text
    assert "/items/{item_id}" in text
    assert left_the_machine(page, offline.port) == [], page.requested
    assert f"http://127.0.0.1:{offline.port}/docs/swagger-ui-bundle.js" in page.requested
    shot = page.screenshot(tmp_path / "docs.png")
    assert png_size(shot) == WINDOW


def test_redoc_renders_every_operation_offline(offline: Server, browser: Chromium) -> None:
    page = browser.open(f"http://127.0.0.1:{offline.port}/redoc")
    sections = ("new Set(Array.from(document.querySelectorAll('[data-section-id^=\"operation/\"]'),"
                " e => e.dataset.sectionId)).size")
    assert page.wait_for(sections) == len(OPERATIONS)
    text = page.text()
    assert all(summary in text for summary in OPERATIONS), text
    # ReDoc's footer logo is on its makers' CDN: the browser refuses to ask for it
    assert left_the_machine(page, offline.port) == [], page.failed


def test_fastapis_own_pages_stay_blank_here(tmp_path: Path, browser: Chromium) -> None:
    """The control: without `offline`, the pages need a CDN, which this browser cannot
    reach: the network really is off, and the tests above would fail on a CDN request."""
    with served(tmp_path, 'app_name = "Shop"\n') as server:
        page = browser.open(f"http://127.0.0.1:{server.port}/docs")
        assert page.evaluate("typeof SwaggerUIBundle") == "undefined"
        assert page.evaluate("document.querySelectorAll('.opblock').length") == 0
        cdn = left_the_machine(page, server.port)
        assert any(url.startswith("https://cdn.jsdelivr.net/") for url in cdn), cdn
        # a request's failure is an event of its own, which may come after the page settled
        # (the favicon's, once): each one's, before what it says is read
        page.wait_until(lambda: all(url in page.failed for url in cdn))
        assert all(page.failed[url].startswith("net::ERR_") for url in cdn), page.failed


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    width, height = struct.unpack(">II", head[16:24])
    return width, height
