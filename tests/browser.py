"""A real headless Chromium (the OS package) with the network off, driven over the DevTools
protocol: open a page, wait until the DOM shows something, list every URL the page asked for,
take a screenshot.

    with Chromium(tmp_path / "profile") as browser:
        page = browser.open("http://127.0.0.1:8000/docs")
        page.wait_for("document.querySelectorAll('.opblock').length")
        assert all(url.startswith("http://127.0.0.1:") for url in page.sent)

"Network off": every host name but the loopback address resolves to nothing, and every
request that is not to the loopback address goes to a proxy at 127.0.0.1:9, where nothing
listens (Chromium never sends loopback requests through a proxy). A page that needs a CDN
therefore fails as on an air-gapped network, and nothing leaves the machine. The protocol
goes over the browser's WebSocket on the loopback address, with the `websockets` client that
fastapi-route already depends on (uvicorn serves websocket routes with it): no browser
automation library.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WHY_NOT = ("no chromium on PATH (Debian: apt-get install -y chromium; .ci/run installs it "
           "when it runs as root)")

START_TIMEOUT = 30.0  # seconds for the browser to open its DevTools port
PAGE_TIMEOUT = 30.0  # seconds for a page to show what a test waits for
WINDOW = (1280, 900)

# Headless, no first-run or background traffic of the browser's own, no sandbox (CI runs as
# root, which the sandbox refuses), and the network off (see the module's docstring).
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)


class BrowserError(AssertionError):
    """The browser did not start, or a page did not show what was waited for."""


class Chromium:
    """One browser process with a profile of its own, stopped on exit."""

    def __init__(self, profile: Path) -> None:
        if CHROMIUM is None:
            raise BrowserError(WHY_NOT)
        profile.mkdir(parents=True, exist_ok=True)
        self._closing = contextlib.ExitStack()
        self.log = profile / "chromium.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its helper processes in a group we can end
            )
        try:
            port, path = self._devtools_address(profile / "DevToolsActivePort")
            # entered as a context manager, as newer websockets releases want it
            self.connection: ClientConnection = self._closing.enter_context(
                connect(f"ws://127.0.0.1:{port}{path}", max_size=None))
        except BaseException:
            self.close()
            raise
        self._ids = 0
        self.events: list[dict[str, Any]] = []  # every event seen, in order

    def _devtools_address(self, active_port: Path) -> tuple[str, str]:
        """The port and path the browser writes once it listens (port 0: its own pick)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited {self.process.returncode}:\n"
                                   + self.log.read_text(errors="replace"))
            lines = active_port.read_text().split("\n") if active_port.exists() else []
            if len(lines) >= 2 and lines[0].isdigit():
                return lines[0], lines[1]
            time.sleep(0.05)
        raise BrowserError("chromium did not open its DevTools port:\n"
                           + self.log.read_text(errors="replace"))

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = PAGE_TIMEOUT) -> dict[str, Any]:
        """Send one command and wait for its answer; events that come first are kept."""
        self._ids += 1
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.connection.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer to {method} in {timeout} s")
            received = json.loads(self.connection.recv(timeout=left))
            if received.get("id") == self._ids:
                if "error" in received:
                    raise BrowserError(f"{method}: {received['error']}")
                return dict(received.get("result", {}))
            self.events.append(received)

    def open(self, url: str) -> Page:
        """A new tab showing `url` (once its load event fired)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, session["sessionId"])
        page.call("Network.enable")
        page.call("Page.enable")
        # the viewport exactly WINDOW (the window's own frame would take some of it)
        page.call("Emulation.setDeviceMetricsOverride", {
            "width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False})
        page.call("Page.navigate", {"url": url})
        page.wait_for("document.readyState === 'complete'")
        return page

    def close(self) -> None:
        connection = getattr(self, "connection", None)
        if connection is not None:
            # it may be gone already: the process is stopped below anyway
            with contextlib.suppress(Exception):
                self.call("Browser.close", timeout=5)
        self._closing.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        # What is left of the group (a helper that outlived the browser), the browser too if
        # it did not close: the group id is still ours while the leader is not reaped.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab, attached to its own DevTools session."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = PAGE_TIMEOUT) -> Any:
        """Evaluate `expression` until it is truthy; its value. Raises with what the page
        asked for, and what failed, when `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"{expression!r} stayed {value!r} for {timeout} s; the page "
                                   f"asked for {self.requested}, and failed {self.failed}")
            time.sleep(0.1)

    def wait_until(self, condition: Callable[[], bool], timeout: float = PAGE_TIMEOUT) -> None:
        """Until `condition()` holds, reading the browser's events as they come (they are read
        with each command's answer); raises with what the page asked for, and what failed,
        when `timeout` passes."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise BrowserError(f"still not so after {timeout} s; the page asked for "
                                   f"{self.requested}, and failed {self.failed}")
            time.sleep(0.1)
            self.evaluate("0")

    def _events(self, method: str) -> Iterator[dict[str, Any]]:
        for event in self.browser.events:
            if event.get("sessionId") == self.session and event.get("method") == method:
                yield event["params"]

    @property
    def requested(self) -> list[str]:
        """Every URL the page asked for (the page itself, scripts, styles, fetches, images)."""
        return [p["request"]["url"] for p in self._events("Network.requestWillBeSent")]

    @property
    def failed(self) -> dict[str, str]:
        """Each URL whose request failed, with why: a network error (`net::ERR_...`), or
        `blocked: csp` when the browser refused to send it (the page's own policy)."""
        urls = {p["requestId"]: p["request"]["url"]
                for p in self._events("Network.requestWillBeSent")}
        return {urls.get(p["requestId"], "?"): (f"blocked: {p['blockedReason']}"
                                                 if p.get("blockedReason")
                                                 else p.get("errorText", ""))
                for p in self._events("Network.loadingFailed")}

    @property
    def sent(self) -> list[str]:
        """The URLs the page asked for that the browser did not refuse to send."""
        blocked = {url for url, why in self.failed.items() if why.startswith("blocked")}
        return [url for url in self.requested if url not in blocked]

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''"))

    def screenshot(self, path: Path) -> Path:
        """A PNG of the window as it is now."""
        shot = self.call("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
