"""SPEC 9, WebSockets: `async def WEBSOCKET(websocket, ...)` in a route file, on real trees.

Path and query parameters, `Depends`, a cookie and `WebSocketException` work as in FastAPI; a
catch-all's websocket receives a list; eager, lazy and from a built cache. A websocket to a
path nobody serves is refused at the handshake exactly as Starlette's own router refuses it
(never a 500, never a hang); an HTTP request to a websocket-only path is answered as plain
FastAPI answers it; `routes` lists the websocket as WS and the statistics count it.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from conftest import app_in_mode, write_tree
from fastapi import FastAPI, WebSocket
from fastapi.testclient import TestClient
from limits import time_limit
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline.build import build

MODES = ["eager", "lazy", "cache", "cache-lazy"]
LIMIT = 10.0  # seconds for any one conversation: a hang fails the test instead of stalling it

TREE = {
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/items/[item_id]/ws/route.py": """
        from typing import Annotated

        from fastapi import Cookie, Depends, WebSocket, WebSocketException, status


        async def _session(websocket: WebSocket, session: Annotated[str | None, Cookie()] = None):
            if session is None:
                raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="no session")
            return session


        async def WEBSOCKET(
            websocket,
            item_id: int,
            user: Annotated[str, Depends(_session)],
            q: str | None = None,
        ):
            await websocket.accept()
            await websocket.send_json({"item_id": item_id, "q": q, "user": user})
            text = await websocket.receive_text()
            await websocket.send_text(text.upper())
            await websocket.close(code=1000)
    """,
    "routes/files/[...path]/route.py": """
        async def WEBSOCKET(websocket, path: list[str]):
            await websocket.accept()
            await websocket.send_json({"path": path})
            await websocket.close()
    """,
    "routes/chat/route.py": """
        from fastapi import WebSocket


        def GET(request):
            return {"chat": "page"}


        async def WEBSOCKET(websocket: WebSocket):
            await websocket.accept()
            async for message in websocket.iter_text():
                await websocket.send_text(f"echo {message}")
    """,
    "routes/only-ws/route.py": """
        async def WEBSOCKET(websocket):
            await websocket.accept()
            await websocket.send_text("only")
            await websocket.close()
    """,
}




@pytest.fixture(params=MODES)
def client(request, tmp_path) -> TestClient:
    return TestClient(app_in_mode(write_tree(tmp_path / "app", TREE), request.param))


def test_path_query_cookie_and_depends(client):
    client = TestClient(client.app, cookies={"session": "ann"})
    with time_limit(LIMIT), client.websocket_connect("/items/7/ws?q=hello") as websocket:
        assert websocket.receive_json() == {"item_id": 7, "q": "hello", "user": "ann"}
        websocket.send_text("shout")
        assert websocket.receive_text() == "SHOUT"
        with pytest.raises(WebSocketDisconnect) as closed:
            websocket.receive_text()
        assert closed.value.code == 1000


def test_query_parameter_is_optional(client):
    client = TestClient(client.app, cookies={"session": "bob"})
    with time_limit(LIMIT), client.websocket_connect("/items/1/ws") as websocket:
        assert websocket.receive_json() == {"item_id": 1, "q": None, "user": "bob"}
        websocket.send_text("x")
        assert websocket.receive_text() == "X"


def test_a_dependencys_websocket_exception_refuses_the_handshake(client):
    with time_limit(LIMIT), pytest.raises(WebSocketDisconnect) as refused, \
            client.websocket_connect("/items/1/ws"):
        pass
    assert (refused.value.code, refused.value.reason) == (1008, "no session")


def test_a_bad_path_parameter_is_fastapis_validation_refusal(client):
    client = TestClient(client.app, cookies={"session": "s"})
    with time_limit(LIMIT), pytest.raises(WebSocketDisconnect) as refused, \
            client.websocket_connect("/items/abc/ws"):
        pass
    assert refused.value.code == 1008
    assert "int_parsing" in str(refused.value.reason)
    assert "item_id" in str(refused.value.reason)


def test_a_catch_all_websocket_receives_a_list(client):
    with time_limit(LIMIT):
        with client.websocket_connect("/files/a/b/c.txt") as websocket:
            assert websocket.receive_json() == {"path": ["a", "b", "c.txt"]}
        with client.websocket_connect("/files/one") as websocket:
            assert websocket.receive_json() == {"path": ["one"]}


def test_http_and_websocket_on_one_path(client):
    assert client.get("/chat").json() == {"chat": "page"}
    with time_limit(LIMIT), client.websocket_connect("/chat") as websocket:
        websocket.send_text("a")
        assert websocket.receive_text() == "echo a"
        websocket.send_text("b")
        assert websocket.receive_text() == "echo b"
    # A 405 names the HTTP methods only.
    wrong = client.post("/chat")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD"


# --- what nobody serves ---------------------------------------------------------------------


def handshake(app: Any, url: str) -> tuple[str, int | None]:
    """How a handshake ends: accepted, or disconnected with a code. An exception inside the
    app (a 500 under a server) propagates; a hang fails on the time limit."""
    client = TestClient(app)
    try:
        with time_limit(LIMIT), client.websocket_connect(url):
            return "accepted", None
    except WebSocketDisconnect as exc:
        return "refused", exc.code


async def _starlette_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


@pytest.mark.parametrize("url", ["/nowhere", "/", "/items/1", "/items/1/ws/more", "/files",
                                 "/only-ws/", "/docs", "/openapi.json"])
def test_a_websocket_nobody_serves_is_refused_as_starlettes_router_refuses_it(client, url):
    starlette = Starlette(routes=[WebSocketRoute("/ws", _starlette_socket)])
    expected = handshake(starlette, url)
    assert expected == ("refused", 1000)  # Starlette's router: close before accept (HTTP 403)
    assert handshake(client.app, url) == expected


@pytest.mark.parametrize("mode", MODES)
def test_a_catch_all_route_a_404_page_and_public_files_never_take_a_websocket(tmp_path, mode):
    root = write_tree(tmp_path / "app", {
        **TREE,
        "routes/[...rest]/route.py": "def GET(request, rest: list[str]):\n    return rest\n",
        "not-found.py": "def handler(request, context):\n    return {'missing': True}\n",
        "public/file.txt": "static\n",
    })
    app = app_in_mode(root, mode)
    for url in ("/anything/else", "/file.txt", "/"):
        assert handshake(app, url) == ("refused", 1000)
    with time_limit(LIMIT), TestClient(app).websocket_connect("/only-ws") as websocket:
        assert websocket.receive_text() == "only"


def _plain_fastapi() -> FastAPI:
    app = FastAPI()
    app.add_api_websocket_route("/only-ws", _starlette_socket)

    @app.get("/chat")
    def chat() -> dict[str, str]:
        return {"chat": "page"}

    app.add_api_websocket_route("/chat", _starlette_socket)
    return app


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_http_to_a_websocket_only_path_answers_as_plain_fastapi(client, method):
    want = TestClient(_plain_fastapi()).request(method, "/only-ws")
    got = client.request(method, "/only-ws")
    assert got.status_code == want.status_code == 404
    assert got.json() == want.json()
    assert "allow" not in got.headers


# --- the CLI and the statistics -------------------------------------------------------------


def test_routes_lists_websockets_as_ws(tmp_path):
    root = write_tree(tmp_path / "app", TREE)
    result = CliRunner().invoke(main, ["routes", "--project", str(root)])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()]
    ws_rows = {(row[0], row[1]) for row in rows if row and row[0] == "WS"}
    assert ws_rows == {("WS", "/items/{item_id}/ws"), ("WS", "/files/{path:path}"),
                       ("WS", "/chat"), ("WS", "/only-ws")}
    assert any(row[:2] == ["GET", "/chat"] for row in rows)
    assert "WEBSOCKET" not in result.output
    assert "routes/items/[item_id]/ws/route.py:" in result.output
    assert f"{len(TREE) + 1} routes" in result.output  # chat has GET and WS


STATS_TREE = {
    **TREE,
    "not-found.py": """
        def handler(request, context):
            return {"statistics": context.get_statistics(),
                    "routes": sorted((r["method"], r["path"]) for r in context.get_routes())}
    """,
}


@pytest.mark.parametrize("mode", MODES)
def test_statistics_count_websockets(tmp_path, mode):
    root = write_tree(tmp_path / "app", STATS_TREE)
    client = TestClient(app_in_mode(root, mode))
    body = client.get("/nowhere").json()
    stats = body["statistics"]
    assert stats["total_routes"] == 6
    assert stats["methods"] == {"GET": 2, "WEBSOCKET": 4}
    assert stats["dynamic_routes"] == 2  # /items/{item_id}/ws and the catch-all
    assert stats["static_routes"] == 4
    assert ["WEBSOCKET", "/files/{path:path}"] in body["routes"]


def test_the_manifest_counts_websockets(tmp_path):
    root = write_tree(tmp_path / "app", TREE)
    build(root, load_config(root))
    cache = cache_io.load(root / ".cache", "routes")
    assert cache.manifest.total_routes == 6
    assert cache.manifest.dynamic_routes == 2
    assert sorted(r.method for r in cache.routes if r.is_websocket) == ["WEBSOCKET"] * 4


def test_a_websocket_whose_file_fails_to_import_in_lazy_mode_closes_without_a_hang(tmp_path):
    """Lazy mode imports on first use: a broken file closes its websocket (1011, internal
    error) instead of hanging or crashing the app; every other route keeps working."""
    root = write_tree(tmp_path / "app", {
        **TREE,
        "routes/broken/route.py": """
            raise RuntimeError("broken at import")

            async def WEBSOCKET(websocket):
                await websocket.accept()
        """,
    })
    app = app_in_mode(root, "lazy")
    assert handshake(app, "/broken") == ("refused", 1011)
    with time_limit(LIMIT), TestClient(app).websocket_connect("/only-ws") as websocket:
        assert websocket.receive_text() == "only"
