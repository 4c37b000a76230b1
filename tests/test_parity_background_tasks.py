"""SPEC 9 parity: FastAPI's "Background Tasks" tutorial against its port,
examples/background_tasks (the version whose dependency adds a task too) and its sub-project
notification/ (the first version, at the same URL).

The tutorial's apps are rebuilt here as FastAPI has them. Each app runs in a working folder of
its own (the tasks write `log.txt` there); the same requests get the same answers from both,
and leave the same log after each one, in every mode the runtime builds an app
(parity.PORT_MODES). On a small tree beside them: a task runs after the response is sent, as
in FastAPI, and the handler's and the dependency's `BackgroundTasks` are one object.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pytest
from conftest import copy_example, write_tree
from fastapi import BackgroundTasks, Depends, FastAPI
from parity import PORT_MODES, assert_same_meaning, port_app
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fastapi_route.runtime.app import runtime_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "background_tasks"


# --- the tutorial, as FastAPI has it ----------------------------------------------------------


def write_log(message: str) -> None:
    with open("log.txt", mode="a") as log:
        log.write(message)


def get_query(background_tasks: BackgroundTasks, q: str | None = None) -> str | None:
    if q:
        background_tasks.add_task(write_log, f"found query: {q}\n")
    return q


def original_main() -> FastAPI:
    app = FastAPI()

    @app.post("/send-notification/{email}")
    async def send_notification(
        email: str, background_tasks: BackgroundTasks, q: Annotated[str, Depends(get_query)]
    ) -> Any:
        background_tasks.add_task(write_log, f"message to {email}\n")
        return {"message": "Message sent"}

    return app


def write_notification(email: str, message: str = "") -> None:
    with open("log.txt", mode="w") as email_file:
        email_file.write(f"notification for {email}: {message}")


def original_notification() -> FastAPI:
    app = FastAPI()

    @app.post("/send-notification/{email}")
    async def send_notification(email: str, background_tasks: BackgroundTasks) -> Any:
        background_tasks.add_task(write_notification, email, message="some notification")
        return {"message": "Notification sent in the background"}

    return app


ORIGINALS: dict[str, Callable[[], FastAPI]] = {
    "main": original_main, "notification": original_notification}

# (method, url) in order; the log is read after each.
REQUESTS: dict[str, list[tuple[str, str]]] = {
    "main": [
        ("POST", "/send-notification/rick@example.com?q=portal"),
        ("POST", "/send-notification/morty@example.com"),
        ("POST", "/send-notification/summer@example.com?q="),  # an empty q adds no task
        ("GET", "/send-notification/rick@example.com"),  # 405: no task
        ("POST", "/send-notification"),  # 404
        ("POST", "/send-notification/beth@example.com?q=a&q=b"),  # the last q
    ],
    "notification": [
        ("POST", "/send-notification/rick@example.com"),
        ("POST", "/send-notification/morty@example.com?q=ignored"),
        ("DELETE", "/send-notification/rick@example.com"),
    ],
}


def conversation(app: FastAPI, folder: Path, requests: list[tuple[str, str]],
                 monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, Any, str | None]]:
    """Each request's status and body, and log.txt as it is once the answer is in (the
    TestClient returns after the response's background tasks have run)."""
    folder.mkdir()
    monkeypatch.chdir(folder)
    log = folder / "log.txt"
    seen = []
    with TestClient(app) as client:
        for method, url in requests:
            response = client.request(method, url)
            seen.append((response.status_code, response.json(),
                         log.read_text() if log.exists() else None))
    return seen


@pytest.mark.parametrize("mode", PORT_MODES)
@pytest.mark.parametrize("project", sorted(ORIGINALS))
def test_same_answers_and_same_log(project: str, mode: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_example(EXAMPLE, tmp_path / "example")
    port = port_app(root if project == "main" else root / project, mode)
    want = conversation(ORIGINALS[project](), tmp_path / "original", REQUESTS[project],
                        monkeypatch)
    got = conversation(port, tmp_path / "port", REQUESTS[project], monkeypatch)
    assert got == want
    if project == "main":  # the yardstick, spelled out: the dependency's task runs first
        assert want[0] == (200, {"message": "Message sent"},
                           "found query: portal\nmessage to rick@example.com\n")
        assert want[-1][2] is not None and want[-1][2].endswith(
            "found query: b\nmessage to beth@example.com\n")
    else:
        assert want[1][2] == "notification for morty@example.com: some notification"


@pytest.mark.parametrize("mode", PORT_MODES)
@pytest.mark.parametrize("project", sorted(ORIGINALS))
def test_openapi_means_the_same(project: str, mode: str, tmp_path: Path) -> None:
    root = copy_example(EXAMPLE, tmp_path)
    port = port_app(root if project == "main" else root / project, mode)
    with TestClient(ORIGINALS[project]()) as original, TestClient(port) as ported:
        want = original.get("/openapi.json").json()
        got = ported.get("/openapi.json").json()
    assert_same_meaning(want, got)
    # BackgroundTasks is FastAPI's to inject: never a parameter of the operation.
    parameters = got["paths"]["/send-notification/{email}"]["post"]["parameters"]
    assert {p["name"] for p in parameters} == ({"email", "q"} if project == "main" else {"email"})


# --- when the tasks run -------------------------------------------------------------------


class SendLog:
    """Pure ASGI middleware that notes in `events` when the response's last body part is
    sent: a background task must come after it."""

    def __init__(self, app: ASGIApp, events: list[str]) -> None:
        self.app = app
        self.events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.events.append("response sent")

        await self.app(scope, receive, noting)


# The same app as a tree: app.py holds the event list and the middleware (the same class,
# written out), the route file adds the tasks.
ORDER_TREE = {
    "app.py": """
        from starlette.middleware import Middleware

        events = []


        class SendLog:
            def __init__(self, app, events):
                self.app = app
                self.events = events

            async def __call__(self, scope, receive, send):
                async def noting(message):
                    await send(message)
                    if message["type"] == "http.response.body" and not message.get("more_body"):
                        self.events.append("response sent")

                await self.app(scope, receive, noting)


        middleware = [Middleware(SendLog, events=events)]
    """,
    "routes/work/route.py": """
        from typing import Annotated

        from fastapi import BackgroundTasks, Depends

        from ...app import events


        def task(name):
            events.append(f"task {name}")


        def dependency(background_tasks: BackgroundTasks):
            background_tasks.add_task(task, "from the dependency")
            return id(background_tasks)


        async def POST(request, background_tasks: BackgroundTasks,
                       theirs: Annotated[int, Depends(dependency)]):
            events.append("handler")
            background_tasks.add_task(task, "from the handler")
            return {"same object": theirs == id(background_tasks)}
    """,
}


# The original's, at module level: FastAPI resolves this module's string annotations
# (`from __future__ import annotations`) in its globals.
ORIGINAL_EVENTS: list[str] = []


def task(name: str) -> None:
    ORIGINAL_EVENTS.append(f"task {name}")


def add_a_task(background_tasks: BackgroundTasks) -> int:
    background_tasks.add_task(task, "from the dependency")
    return id(background_tasks)  # (FastAPI 0.110 refuses `Depends` on a BackgroundTasks)


def original_order_app() -> FastAPI:
    app = FastAPI(middleware=[Middleware(SendLog, events=ORIGINAL_EVENTS)])

    @app.post("/work")
    async def work(background_tasks: BackgroundTasks,
                   theirs: Annotated[int, Depends(add_a_task)]) -> Any:
        ORIGINAL_EVENTS.append("handler")
        background_tasks.add_task(task, "from the handler")
        return {"same object": theirs == id(background_tasks)}

    return app


def events_of(app: FastAPI, events: list[str]) -> tuple[Any, list[str]]:
    with TestClient(app) as client:
        body = client.post("/work").json()
    return body, list(events)


@pytest.mark.parametrize("mode", PORT_MODES)
def test_tasks_run_after_the_response_in_the_order_added(mode: str, tmp_path: Path) -> None:
    ORIGINAL_EVENTS.clear()
    expected = events_of(original_order_app(), ORIGINAL_EVENTS)
    assert expected == ({"same object": True}, [
        "handler", "response sent", "task from the dependency", "task from the handler"])
    port = port_app(write_tree(tmp_path / "order", ORDER_TREE), mode)
    app_module = runtime_of(port).modules.load("app.py")  # the module the route imports
    assert events_of(port, app_module.events) == expected
