"""Routes on demand (SPEC 10, issue 12), in-process: the three schedules (`eager`, `warm`,
`lazy`) are one app answering the same things; they differ only in when route files are
imported and when each route is registered with FastAPI. Behaviour, not seconds: nothing here
measures time (waits are bounded, never asserted on)."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tree
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from transcripts import SAMPLE_REQUESTS, Request

from fastapi_route.config import load_config
from fastapi_route.errors import FastAPIRouteError
from fastapi_route.pipeline.build import build
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app, runtime_of
from fastapi_route.runtime.ondemand import LazyRoute, OnDemandRoutes

SCHEDULES = ("eager", "warm", "lazy")
SAMPLE = Path(__file__).resolve().parent.parent / "sample_project"
VOLATILE = {"x-request-id", "x-process-time", "date", "etag", "last-modified"}
WARM_UP_TIMEOUT = 10.0  # a bound on waiting for the warm-up, never an assertion on speed


@pytest.fixture(autouse=True)
def _not_under_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process there is no `run` to stop: a rejected route answers 500 (failure.py)."""
    monkeypatch.delenv("FASTAPI_ROUTE_SUPERVISOR", raising=False)
    monkeypatch.delenv("FASTAPI_ROUTE_SCHEDULE", raising=False)


def built(root: Path) -> Path:
    build(root, load_config(root))
    return root


def app_for(root: Path, schedule: str, package: str | None = None, **options: Any) -> Any:
    """The app `run` would serve from the cache under `schedule`."""
    return create_app(Project(root, package), source="cache", schedule=schedule,  # type: ignore[arg-type]
                      **options)


def file_routes(app: Any) -> OnDemandRoutes:
    routes: OnDemandRoutes = runtime_of(app).file_routes
    return routes


def lazy_left(app: Any) -> list[LazyRoute]:
    """The routes of the app's router that are still stand-ins, not FastAPI routes."""
    return [r for r in app.router.routes if isinstance(r, LazyRoute)]


def wait_warmed_up(app: Any) -> None:
    """Until the warm-up (running in the TestClient's event loop thread) has made every route
    real, or failed on it; bounded."""
    deadline = time.monotonic() + WARM_UP_TIMEOUT
    while not all(r.real is not None or r.error is not None for r in file_routes(app).lazy):
        assert time.monotonic() < deadline, "the warm-up did not reach every route"
        time.sleep(0.01)


# --- transcripts: the same requests, compared across schedules ---------------------------------



def transcript(client: TestClient, requests: list[Request],
               sockets: list[tuple[str, list[str]]], mask: bool = False,
               ) -> list[tuple[object, ...]]:
    """Status, headers (but the volatile ones) and body of each request, then each websocket
    conversation (or how its handshake was refused). `mask`: cut the bodies that hold a
    random token or request id."""
    out: list[tuple[object, ...]] = []
    for method, url, body, headers in requests:
        r = client.request(method, url, json=body, headers=dict(headers),
                           follow_redirects=False)
        text = r.text
        if mask and ("token" in text or "request_id" in text):  # random per request
            text = text[:10]
        kept = sorted((k, v) for k, v in r.headers.items() if k not in VOLATILE)
        out.append((method, url, r.status_code, kept, text))
    for url, messages in sockets:
        try:
            with client.websocket_connect(url) as ws:
                replies = []
                for message in messages:
                    ws.send_text(message)
                    replies.append(ws.receive_text())
            out.append(("WS", url, replies))
        except WebSocketDisconnect as exc:
            out.append(("WS", url, "refused", exc.code))
    return out


def assert_same(transcripts: Mapping[str, list[tuple[object, ...]]]) -> None:
    (first_name, first), *rest = transcripts.items()
    for name, other in rest:
        assert len(other) == len(first)
        for a, b in zip(first, other, strict=True):
            assert a == b, f"{first_name} vs {name}"


SAMPLE_SOCKETS = [("/ws?name=ada", ["hi", "again"]), ("/no-socket-here", ["x"])]


def _fresh_sample(tmp_path: Path, name: str) -> Path:
    """A built copy of the sample project; its package (with its store) imported afresh."""
    target = tmp_path / name
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    for module in [m for m in sys.modules if m == "sample_app" or m.startswith("sample_app.")]:
        del sys.modules[module]
    return built(target / "sample_app")


def test_the_three_schedules_answer_the_same_on_the_sample_project(tmp_path: Path) -> None:
    transcripts = {}
    for schedule in SCHEDULES:
        for lifespan in (False, True):
            root = _fresh_sample(tmp_path, f"{schedule}-{lifespan}")
            app = app_for(root, schedule, "sample_app")
            if lifespan:  # warm: the requests interleave with the warm-up
                with TestClient(app) as client:
                    transcripts[f"{schedule} with its lifespan"] = transcript(
                        client, SAMPLE_REQUESTS, SAMPLE_SOCKETS, mask=True)
            else:
                transcripts[schedule] = transcript(TestClient(app), SAMPLE_REQUESTS,
                                                   SAMPLE_SOCKETS, mask=True)
    assert_same(transcripts)
    eager = transcripts["eager"]
    assert [t[2] for t in eager][:3] == [200, 200, 200]
    assert eager[-2] == ("WS", "/ws?name=ada", ["ada: hi", "ada: again"])


# --- a tree with layouts, a websocket, a catch-all, a 405, url_for -----------------------------

BULK = 60  # enough routes that a warm-up is still running when the first requests arrive

LAYOUT_TREE = {
    "routes/_layout.py": """
        from fastapi import Depends
        from starlette.requests import HTTPConnection

        def _stamp(connection: HTTPConnection):  # HTTP and websocket routes alike
            connection.state.stamp = "root"

        dependencies = [Depends(_stamp)]
        tags = ["all"]

        async def middleware(request, call_next):
            response = await call_next(request)
            response.headers["X-Layout"] = "root"
            return response
    """,
    "routes/(admin)/_layout.py": """
        from fastapi import Depends, Header

        from fastapi_route import ForbiddenException

        def _admin(x_token: str = Header()):
            if x_token != "secret":
                raise ForbiddenException(detail="admins only")

        dependencies = [Depends(_admin)]
        tags = ["admin"]
        responses = {403: {"description": "Not an admin"}}
    """,
    "routes/(admin)/panel/route.py": """
        def GET(request):
            return {"panel": request.state.stamp}
    """,
    "routes/index.py": """
        def GET(request):
            '''The home page.'''
            return {"stamp": request.state.stamp}
    """,
    "routes/items/route.py": """
        def GET(request, q: str = ""):
            return {"items": [], "q": q}

        def POST(request, body: dict):
            return body, 201
    """,
    "routes/items/[item_id]/route.py": """
        def GET(request, item_id: int):
            return {"item_id": item_id}

        def DELETE(request, item_id: int):
            return None
    """,
    "routes/items/new/route.py": """
        def GET(request):
            return {"new": True}
    """,
    "routes/files/[...path]/route.py": """
        async def GET(request, path: list[str]):
            return {"path": path}
    """,
    "routes/links/route.py": """
        async def GET(request):
            return {"item": str(request.url_for("get_items_item_id", item_id=3)),
                    "last": str(request.url_for("get_bulk_r%d" % (BULK - 1)))}
    """.replace("BULK", str(BULK)),
    "routes/ws/[room]/route.py": """
        from fastapi import WebSocket

        async def WEBSOCKET(websocket: WebSocket, room: str, shout: bool = False):
            await websocket.accept()
            text = await websocket.receive_text()
            reply = f"{room} ({websocket.state.stamp}): {text}"
            await websocket.send_text(reply.upper() if shout else reply)
            await websocket.close()
    """,
    # A layout over a websocket only: its dependency takes the websocket.
    "routes/ws/_layout.py": """
        from fastapi import Depends, WebSocket

        def _mark(websocket: WebSocket):
            websocket.state.stamp = "ws-layout"

        dependencies = [Depends(_mark)]
    """,
    **{f"routes/bulk/r{i}/route.py": f"""
        def GET(request):
            return {{"n": {i}}}
    """ for i in range(BULK)},
}

# Each request with the status the tree says it gets (under every schedule).
LAYOUT_EXPECTED: list[tuple[Request, int]] = [
    (("GET", "/", None, {}), 200), (("HEAD", "/", None, {}), 200),
    (("GET", "/panel", None, {}), 422), (("GET", "/panel", None, {"X-Token": "nope"}), 403),
    (("GET", "/panel", None, {"X-Token": "secret"}), 200),
    (("GET", "/items?q=a", None, {}), 200), (("POST", "/items", {"a": 1}, {}), 201),
    (("PUT", "/items", {"a": 1}, {}), 405), (("DELETE", "/items", None, {}), 405),
    (("GET", "/items/new", None, {}), 200), (("GET", "/items/7", None, {}), 200),
    (("GET", "/items/seven", None, {}), 422), (("DELETE", "/items/7", None, {}), 204),
    (("PATCH", "/items/7", None, {}), 405), (("HEAD", "/items/7", None, {}), 200),
    (("GET", "/files/a/b/c.txt", None, {}), 200), (("GET", "/files/x", None, {}), 200),
    (("GET", "/links", None, {}), 200), (("GET", f"/bulk/r{BULK - 1}", None, {}), 200),
    (("GET", "/bulk/r0", None, {}), 200), (("GET", "/bulk/nope", None, {}), 404),
    (("GET", "/nope", None, {}), 404), (("GET", "/items/", None, {}), 307),
    (("GET", "/ws/lobby", None, {}), 404), (("GET", "/openapi.json", None, {}), 200),
    (("GET", "/docs", None, {}), 200),
]
LAYOUT_REQUESTS = [request for request, _ in LAYOUT_EXPECTED]
LAYOUT_SOCKETS = [("/ws/lobby?shout=true", ["hi"]), ("/ws/den", ["yo"]), ("/items", ["x"])]


@pytest.fixture
def layout_tree(tmp_path: Path) -> Path:
    return built(write_tree(tmp_path / "layouts", LAYOUT_TREE))


def test_the_three_schedules_answer_the_same_on_a_tree_with_layouts(layout_tree: Path) -> None:
    transcripts = {}
    for schedule in SCHEDULES:
        transcripts[schedule] = transcript(TestClient(app_for(layout_tree, schedule)),
                                           LAYOUT_REQUESTS, LAYOUT_SOCKETS)
        with TestClient(app_for(layout_tree, schedule)) as client:
            transcripts[f"{schedule} with its lifespan"] = transcript(
                client, LAYOUT_REQUESTS, LAYOUT_SOCKETS)
    assert_same(transcripts)
    # What every schedule answered is what the tree says, not only the same thing thrice.
    eager = transcripts["eager"]
    assert [t[2] for t in eager[:len(LAYOUT_EXPECTED)]] == [s for _, s in LAYOUT_EXPECTED]
    home, put_items, patch_item, files, links = (eager[i] for i in (0, 7, 13, 15, 17))
    assert json.loads(home[4]) == {"stamp": "root"} and ("x-layout", "root") in home[3]
    assert ("allow", "GET, HEAD, POST") in put_items[3]
    assert ("allow", "DELETE, GET, HEAD") in patch_item[3]
    assert json.loads(files[4]) == {"path": ["a", "b", "c.txt"]}
    assert json.loads(links[4]) == {"item": "http://testserver/items/3",
                                    "last": f"http://testserver/bulk/r{BULK - 1}"}
    assert eager[len(LAYOUT_EXPECTED):] == [
        ("WS", "/ws/lobby?shout=true", ["LOBBY (WS-LAYOUT): HI"]),
        ("WS", "/ws/den", ["den (ws-layout): yo"]),
        ("WS", "/items", "refused", 1000),  # nobody serves a websocket there
    ]


# --- when files are imported and routes registered ----------------------------------------------

MARKED = {
    # Each file notes its own import beside itself (route.imported, _layout.imported).
    "routes/_layout.py": """
        from pathlib import Path
        Path(__file__).with_suffix(".imported").touch()
        tags = ["root"]
    """,
    "routes/index.py": """
        from pathlib import Path
        Path(__file__).with_suffix(".imported").touch()

        def GET(request):
            return {"page": "home"}
    """,
    "routes/(g)/_layout.py": """
        from pathlib import Path
        Path(__file__).with_suffix(".imported").touch()
        tags = ["g"]
    """,
    "routes/(g)/a/[x]/route.py": """
        from pathlib import Path
        Path(__file__).with_suffix(".imported").touch()

        def GET(request, x: int):
            return {"x": x}

        def POST(request, x: int):
            return {"posted": x}
    """,
    "routes/b/[...rest]/route.py": """
        from pathlib import Path
        Path(__file__).with_suffix(".imported").touch()

        def GET(request, rest: list[str]):
            return {"rest": rest}
    """,
    "routes/ws/route.py": """
        from pathlib import Path
        Path(__file__).with_suffix(".imported").touch()

        async def WEBSOCKET(websocket):
            await websocket.accept()
            await websocket.send_text("hello")
            await websocket.close()
    """,
}
MARKED_FILES = sorted(f for f in MARKED)


def imported(root: Path) -> list[str]:
    return sorted(f for f in MARKED_FILES if (root / f).with_suffix(".imported").exists())


@pytest.fixture
def marked(tmp_path: Path) -> Path:
    return built(write_tree(tmp_path / "marked", MARKED))


def test_warm_imports_every_route_file_and_layout_before_any_request(marked: Path) -> None:
    app = app_for(marked, "warm")
    assert imported(marked) == MARKED_FILES
    # ... and registers nothing yet: each route is made real on demand or by the warm-up.
    assert len(lazy_left(app)) == len(file_routes(app).lazy) == 5
    assert all(r.real is None for r in file_routes(app).lazy)


def test_lazy_imports_nothing_until_a_request_needs_it(marked: Path) -> None:
    app = app_for(marked, "lazy")
    assert imported(marked) == []
    client = TestClient(app)
    assert client.get("/a/3").json() == {"x": 3}
    assert imported(marked) == ["routes/(g)/_layout.py", "routes/(g)/a/[x]/route.py",
                                "routes/_layout.py"]
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hello"
    assert "routes/ws/route.py" in imported(marked)
    assert "routes/b/[...rest]/route.py" not in imported(marked)


def test_eager_registers_every_route_before_returning_the_app(marked: Path) -> None:
    app = app_for(marked, "eager")
    assert imported(marked) == MARKED_FILES
    assert lazy_left(app) == []
    assert all(r.real is not None and r.real in app.router.routes
               for r in file_routes(app).lazy)
    client = TestClient(app)
    assert client.get("/b/x/y").json() == {"rest": ["x", "y"]}
    assert client.post("/a/2").json() == {"posted": 2}


def test_warm_up_makes_every_route_real_and_the_dispatcher_still_routes(marked: Path) -> None:
    app = app_for(marked, "warm")
    assert runtime_of(app).dispatcher is not None
    with TestClient(app) as client:
        wait_warmed_up(app)
        assert lazy_left(app) == []
        assert all(r.error is None and r.real in app.router.routes
                   for r in file_routes(app).lazy)
        # Through the trie, on the real routes now in the lazy ones' places.
        assert client.get("/").json() == {"page": "home"}
        assert client.get("/a/5").json() == {"x": 5}
        assert client.post("/a/5").json() == {"posted": 5}
        assert client.get("/a/z").status_code == 422
        assert client.put("/a/5").status_code == 405
        assert client.get("/b/1/2/3").json() == {"rest": ["1", "2", "3"]}
        assert client.get("/nothing").status_code == 404
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "hello"
        # The dispatcher's views hold the real routes, not stale stand-ins.
        for path in ("/", "/a/5", "/b/1/2", "/ws"):
            assert not [r for r in runtime_of(app).dispatcher.view(path).routes
                        if isinstance(r, LazyRoute)], path


def test_requests_before_the_warm_up_use_the_dispatcher_and_its_views_follow(
    marked: Path,
) -> None:
    """Without a lifespan (no warm-up), the first request of each route makes it real; the
    trie's cached views are refreshed, so later requests reach the real route directly."""
    app = app_for(marked, "warm")
    client = TestClient(app)
    assert client.get("/a/1").json() == {"x": 1}  # builds and caches the view of /a/1
    assert client.get("/a/2").json() == {"x": 2}
    view = runtime_of(app).dispatcher.view("/a/2")
    assert not [r for r in view.routes
                if isinstance(r, LazyRoute) and r.path == "/a/{x}" and r.record.method == "GET"]
    assert client.get("/b/q").json() == {"rest": ["q"]}


# --- import errors --------------------------------------------------------------------------------

BROKEN_IMPORT = {
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/broken/route.py": """
        import not_a_module_anywhere

        def GET(request):
            return {}
    """,
}


@pytest.mark.parametrize("schedule", ["eager", "warm"])
def test_an_import_error_fails_create_app_naming_the_file(
    tmp_path: Path, schedule: str,
) -> None:
    root = built(write_tree(tmp_path / "broken", BROKEN_IMPORT))
    with pytest.raises(FastAPIRouteError) as caught:
        app_for(root, schedule)
    assert "routes/broken/route.py" in str(caught.value)
    assert "not_a_module_anywhere" in str(caught.value)


@pytest.mark.parametrize("schedule", ["eager", "warm"])
def test_an_import_error_in_a_layout_fails_create_app_naming_the_layout(
    tmp_path: Path, schedule: str,
) -> None:
    root = built(write_tree(tmp_path / "broken", {
        **BROKEN_IMPORT,
        "routes/broken/route.py": "def GET(request):\n    return {}\n",
        "routes/broken/_layout.py": "raise RuntimeError('layout exploded')\n",
    }))
    with pytest.raises(FastAPIRouteError) as caught:
        app_for(root, schedule)
    assert "routes/broken/_layout.py" in str(caught.value)


def test_lazy_reports_an_import_error_at_the_first_request_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    root = built(write_tree(tmp_path / "broken", BROKEN_IMPORT))
    app = app_for(root, "lazy")  # nothing imported: nothing to fail yet
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/").json() == {"page": "home"}
    with caplog.at_level(logging.ERROR, logger="fastapi_route"):
        assert client.get("/broken").status_code == 500
    assert "routes/broken/route.py" in caplog.text
    assert client.get("/broken").status_code == 500
    assert client.get("/").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" in paths


# --- /openapi.json is complete whenever it is asked ---------------------------------------------


def _spec(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.json()
    return spec


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_openapi_is_complete_as_the_first_request(layout_tree: Path, schedule: str) -> None:
    expected = _spec(TestClient(app_for(layout_tree, "eager")))
    http_paths = {"/", "/panel", "/items", "/items/{item_id}", "/items/new",
                  "/files/{path}", "/links", *(f"/bulk/r{i}" for i in range(BULK))}
    assert set(expected["paths"]) == http_paths
    # Before any route was asked for, and before (or without) the warm-up.
    app = app_for(layout_tree, schedule)
    assert _spec(TestClient(app)) == expected
    app = app_for(layout_tree, schedule)
    with TestClient(app) as client:
        assert _spec(client) == expected  # right after the start: the warm-up is young
        assert client.get("/items/1").status_code == 200
        assert _spec(client) == expected


def test_openapi_asked_in_process_describes_every_route(layout_tree: Path) -> None:
    for schedule in SCHEDULES:
        app = app_for(layout_tree, schedule)
        assert len(app.openapi()["paths"]) == 7 + BULK, schedule


CUSTOM_OPENAPI_APP = """
    from fastapi.openapi.utils import get_openapi


    def configure(app):
        # FastAPI's documented way to extend the schema ("Extending OpenAPI"): built once from
        # app.routes, then cached in app.openapi_schema.
        def custom_openapi():
            if app.openapi_schema:
                return app.openapi_schema
            schema = get_openapi(title="Custom", version="2.0", routes=app.routes)
            schema["info"]["x-logo"] = {"url": "logo.png"}
            app.openapi_schema = schema
            return app.openapi_schema

        app.openapi = custom_openapi
"""


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_openapi_extended_in_configure_is_complete(tmp_path: Path, schedule: str) -> None:
    """README: configure(app) runs "once every route is registered"; a schema built there
    from app.routes describes every route under each schedule, whenever it is asked."""
    root = built(write_tree(tmp_path / "custom", {
        "app.py": CUSTOM_OPENAPI_APP,
        "routes/users/route.py": "def GET(request):\n    return []\n",
        "routes/users/[user_id]/route.py": "def GET(request, user_id: int):\n    return {}\n",
    }))
    client = TestClient(app_for(root, schedule))
    spec = _spec(client)
    assert spec["info"]["x-logo"] == {"url": "logo.png"}
    assert set(spec["paths"]) == {"/users", "/users/{user_id}"}
    assert client.get("/users").json() == []


# --- a handler FastAPI rejects --------------------------------------------------------------------

REJECTED = {
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/bad/route.py": """
        class Plain:
            pass


        def GET(request, thing: Plain):
            return {}
    """,
    "routes/zz/route.py": """
        def GET(request):
            return {"zz": True}
    """,
}


def test_eager_refuses_a_rejected_handler_at_create_app_naming_file_and_line(
    tmp_path: Path,
) -> None:
    root = built(write_tree(tmp_path / "rejected", REJECTED))
    with pytest.raises(FastAPIRouteError) as caught:
        app_for(root, "eager")
    assert "routes/bad/route.py:5" in str(caught.value)


@pytest.mark.parametrize("schedule", ["warm", "lazy"])
def test_a_rejected_handler_answers_500_and_is_logged_the_rest_serves(
    tmp_path: Path, schedule: str, caplog: pytest.LogCaptureFixture,
) -> None:
    root = built(write_tree(tmp_path / "rejected", REJECTED))
    app = app_for(root, schedule)  # no error yet: the file imports fine
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/").json() == {"page": "home"}
    with caplog.at_level(logging.ERROR, logger="fastapi_route"):
        response = client.get("/bad")
    assert response.status_code == 500
    assert "routes/bad/route.py" in caplog.text
    assert client.get("/bad").status_code == 500
    assert client.get("/zz").json() == {"zz": True}
    assert client.get("/").json() == {"page": "home"}
    spec = _spec(client)
    assert set(spec["paths"]) == {"/", "/zz"}


def test_the_warm_up_finds_a_rejected_handler_logs_it_and_serves_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    root = built(write_tree(tmp_path / "rejected", REJECTED))
    app = app_for(root, "warm")
    with caplog.at_level(logging.ERROR, logger="fastapi_route"), \
            TestClient(app, raise_server_exceptions=False) as client:
        wait_warmed_up(app)  # no request to /bad: the warm-up reached it
        bad = [r for r in file_routes(app).lazy if r.path == "/bad"]
        assert len(bad) == 1 and bad[0].error is not None
        assert "routes/bad/route.py" in caplog.text
        assert client.get("/bad").status_code == 500
        assert client.get("/zz").json() == {"zz": True}  # after the bad one in the table
        assert client.get("/").json() == {"page": "home"}


# --- a route made real from a worker thread ------------------------------------------------------

SLOW_IMPORT = {
    "routes/slow/route.py": """
        import time

        time.sleep(0.3)  # a slow import: loading a model, a big table


        def GET(request):
            return {"slow": True}
    """,
    # A sync handler runs in the threadpool; url_for makes the routes it passes real there.
    "routes/link/route.py": """
        def GET(request):
            return {"url": str(request.url_for("get_slow"))}
    """,
}


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_two_requests_making_a_slow_route_real_at_once_both_succeed(
    tmp_path: Path, schedule: str,
) -> None:
    """Two sync handlers call url_for at the same time, each reaching a route whose file is
    slow to import: the route is made real once, and both answer as eager would."""
    root = built(write_tree(tmp_path / "slow", SLOW_IMPORT))
    app = app_for(root, schedule)
    answers: list[tuple[int, str]] = []
    with TestClient(app, raise_server_exceptions=False) as client:  # one event loop
        def ask() -> None:
            response = client.get("/link")
            answers.append((response.status_code, response.text))

        threads = [threading.Thread(target=ask) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=WARM_UP_TIMEOUT)
        assert client.get("/slow").json() == {"slow": True}
    assert answers == [(200, '{"url":"http://testserver/slow"}')] * 2
