"""SPEC 9 parity: FastAPI's "Server-Sent Events" tutorial against its port,
examples/server_sent_events (and its two sub-projects, item_updates/ and resume/, whose
`/items/stream` would collide with the main one's).

Each handler is a generator (`yield`) with `@route(response_class=EventSourceResponse)`;
fastapi-route registers it as it is, so FastAPI itself sees the `yield` and streams events.
The tutorial's apps are rebuilt here as FastAPI has them; every request gets the same status,
headers and bytes from both, in every mode the runtime builds an app (parity.PORT_MODES), the
routes FastAPI made are streams of the same kind and item type, and both `/openapi.json`
documents mean the same (each stream's `itemSchema` included); over a real socket (slow),
`fastapi-route run` sends each event as it is yielded. FastAPI streams generator path
operations from 0.135 on: with an older FastAPI the module is skipped.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import AsyncIterable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest

pytest.importorskip(
    "fastapi.sse",
    reason="FastAPI streams Server-Sent Events from generator path operations since 0.135",
)

from conftest import copy_example, write_tree
from fastapi import FastAPI, Header
from fastapi.routing import APIRoute
from fastapi.sse import EventSourceResponse, ServerSentEvent
from parity import PORT_MODES, assert_same_meaning, port_app
from pydantic import BaseModel
from servers import run_args, run_cli, start_server

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "server_sent_events"
PROJECTS = ("main", "item_updates", "resume")  # "main": the example's own routes/


# --- the tutorial, as FastAPI has it ----------------------------------------------------------


class Item(BaseModel):
    name: str
    description: str | None


ITEMS = [
    Item(name="Plumbus", description="A multi-purpose household device."),
    Item(name="Portal Gun", description="A portal opening device."),
    Item(name="Meeseeks Box", description="A box that summons a Meeseeks."),
]


class PricedItem(BaseModel):
    name: str
    price: float


PRICED = [
    PricedItem(name="Plumbus", price=32.99),
    PricedItem(name="Portal Gun", price=999.99),
    PricedItem(name="Meeseeks Box", price=49.99),
]


class Prompt(BaseModel):
    text: str


LOG_LINES = [
    "2025-01-01 INFO  Application started",
    "2025-01-01 DEBUG Connected to database",
    "2025-01-01 WARN  High memory usage detected",
]


def original_main() -> FastAPI:
    """Items four ways (async or not, annotated or not), raw log lines, a POST chat."""
    app = FastAPI()

    @app.get("/items/stream", response_class=EventSourceResponse)
    async def items_async() -> AsyncIterable[Item]:
        for item in ITEMS:
            yield item

    @app.get("/items/stream-no-async", response_class=EventSourceResponse)
    def items_sync() -> Iterable[Item]:
        yield from ITEMS

    @app.get("/items/stream-no-annotation", response_class=EventSourceResponse)
    async def items_async_bare():  # type: ignore[no-untyped-def]
        for item in ITEMS:
            yield item

    @app.get("/items/stream-no-async-no-annotation", response_class=EventSourceResponse)
    def items_sync_bare():  # type: ignore[no-untyped-def]
        yield from ITEMS

    @app.get("/logs/stream", response_class=EventSourceResponse)
    async def logs() -> AsyncIterable[ServerSentEvent]:
        for line in LOG_LINES:
            yield ServerSentEvent(raw_data=line)

    @app.post("/chat/stream", response_class=EventSourceResponse)
    async def chat(prompt: Prompt) -> AsyncIterable[ServerSentEvent]:
        for word in prompt.text.split():
            yield ServerSentEvent(data=word, event="token")
        yield ServerSentEvent(raw_data="[DONE]", event="done")

    return app


def original_item_updates() -> FastAPI:
    app = FastAPI()

    @app.get("/items/stream", response_class=EventSourceResponse)
    async def updates() -> AsyncIterable[ServerSentEvent]:
        yield ServerSentEvent(comment="stream of item updates")
        for i, item in enumerate(PRICED):
            yield ServerSentEvent(data=item, event="item_update", id=str(i + 1), retry=5000)

    return app


def original_resume() -> FastAPI:
    app = FastAPI()

    @app.get("/items/stream", response_class=EventSourceResponse)
    async def resume(
        last_event_id: Annotated[int | None, Header()] = None,
    ) -> AsyncIterable[ServerSentEvent]:
        start = 0 if last_event_id is None else last_event_id + 1
        for i, item in enumerate(PRICED):
            if i >= start:
                yield ServerSentEvent(data=item, id=str(i))

    return app


ORIGINALS = {"main": original_main, "item_updates": original_item_updates,
             "resume": original_resume}


# --- the apps -----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=PROJECTS)
def original(request: pytest.FixtureRequest) -> Iterator[tuple[str, TestClient]]:
    with TestClient(ORIGINALS[request.param]()) as client:
        yield request.param, client


@pytest.fixture(scope="module", params=PORT_MODES)
def copied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[str, Path]:
    return request.param, copy_example(EXAMPLE, tmp_path_factory.mktemp(f"sse-{request.param}"))


@pytest.fixture
def ported(original: tuple[str, TestClient], copied: tuple[str, Path]
           ) -> Iterator[TestClient]:
    """The port of `original`'s project, in one mode (a fresh app for each test, so a lazy
    route is made real by this test's own first request)."""
    project, _ = original
    mode, root = copied
    with TestClient(port_app(root if project == "main" else root / project, mode)) as client:
        yield client


# What a request looks like: (method, url, headers, JSON body).
Request = tuple[str, str, dict[str, str], Any]

REQUESTS: dict[str, list[Request]] = {
    "main": [
        ("GET", "/items/stream", {}, None),
        ("GET", "/items/stream-no-async", {}, None),
        ("GET", "/items/stream-no-annotation", {}, None),
        ("GET", "/items/stream-no-async-no-annotation", {}, None),
        ("GET", "/logs/stream", {}, None),
        ("POST", "/chat/stream", {}, {"text": "hello there general kenobi"}),
        ("POST", "/chat/stream", {}, {"text": ""}),
        ("POST", "/chat/stream", {}, {"words": "no text"}),  # 422, not a stream
        ("GET", "/chat/stream", {}, None),  # 405
        ("GET", "/nowhere/stream", {}, None),  # 404
    ],
    "item_updates": [("GET", "/items/stream", {}, None)],
    "resume": [
        ("GET", "/items/stream", {}, None),
        ("GET", "/items/stream", {"Last-Event-ID": "0"}, None),
        ("GET", "/items/stream", {"Last-Event-ID": "1"}, None),
        ("GET", "/items/stream", {"Last-Event-ID": "2"}, None),
        ("GET", "/items/stream", {"Last-Event-ID": "abc"}, None),  # 422
    ],
}


def exchange(client: TestClient, request: Request) -> tuple[int, dict[str, str], str]:
    """Status, every header, and the body as text (the stream, read to its end)."""
    method, url, headers, body = request
    response = client.request(method, url, headers=headers, json=body)
    return response.status_code, dict(response.headers), response.text


def test_same_streams(original: tuple[str, TestClient], ported: TestClient) -> None:
    project, client = original
    for request in REQUESTS[project]:
        assert exchange(ported, request) == exchange(client, request), request


def test_the_yardstick_streams_events() -> None:
    """What the comparison above compares, spelled out once on the tutorial's apps."""
    with TestClient(original_main()) as client:
        response = client.get("/items/stream")
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.text == "".join(
            f"data: {item.model_dump_json()}\n\n" for item in ITEMS)
        assert client.get("/logs/stream").text == "".join(
            f"data: {line}\n\n" for line in LOG_LINES)
        chat = client.post("/chat/stream", json={"text": "hi you"}).text
        assert chat == ('event: token\ndata: "hi"\n\nevent: token\ndata: "you"\n\n'
                        "event: done\ndata: [DONE]\n\n")
    with TestClient(original_resume()) as client:
        text = client.get("/items/stream", headers={"Last-Event-ID": "1"}).text
        assert text.startswith("id: 2\n") or "\nid: 2\n" in text, text
        assert "Plumbus" not in text and "Meeseeks Box" in text


def real_route(app: FastAPI, path: str, method: str) -> APIRoute:
    """The APIRoute FastAPI made for `method path` (a lazy one is made real by a request
    before this is called)."""
    for candidate in app.routes:
        if (isinstance(candidate, APIRoute) and candidate.path == path
                and method in candidate.methods):
            return candidate
    raise AssertionError(f"no APIRoute for {method} {path} in {app.routes}")


def stream_kind(route: APIRoute) -> tuple[Any, ...]:
    """What FastAPI decided at registration about a generator endpoint."""
    return (route.is_sse_stream, route.is_json_stream, route.stream_item_type,
            route.response_model)


def test_fastapi_sees_each_handler_as_the_stream_it_is(
    original: tuple[str, TestClient], ported: TestClient
) -> None:
    """FastAPI classified each port's handler as it classified the tutorial's function: the
    same kind of stream (SSE), the same item type validated (or none without an annotation),
    no response model."""
    project, client = original
    for request in REQUESTS[project]:
        method, url, _, _ = request
        if "nowhere" in url or (method, url) == ("GET", "/chat/stream"):
            continue
        exchange(ported, request)  # a route the port makes on demand is made now
        want = stream_kind(real_route(client.app, url, method))  # type: ignore[arg-type]
        assert want[0] is True  # an SSE stream, in the tutorial's own app
        got = stream_kind(real_route(ported.app, url, method))  # type: ignore[arg-type]
        assert got[:2] == want[:2], url
        # The item type is the port's own class (its own module), with the same fields.
        assert (got[2] is None) == (want[2] is None), url
        if want[2] is not None:
            assert got[2].__name__ in {"Item", want[2].__name__}
            assert got[2].model_json_schema()["properties"] == \
                want[2].model_json_schema()["properties"]
        assert got[3] is None and want[3] is None


def test_openapi_means_the_same(original: tuple[str, TestClient], ported: TestClient) -> None:
    project, client = original
    want = client.get("/openapi.json").json()
    got = ported.get("/openapi.json").json()
    assert_same_meaning(want, got)
    content = got["paths"]["/items/stream"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    if project == "main":  # the item's schema, as the data of each event
        data = content["text/event-stream"]["itemSchema"]["properties"]["data"]
        assert data["contentSchema"] == {"$ref": "#/components/schemas/Item"}


def test_head_answers_the_headers_of_the_stream(copied: tuple[str, Path]) -> None:
    """Every GET route file also answers HEAD (README), a stream too: the same status and
    headers as the GET, no body. (FastAPI's own GET route answers HEAD with a 405.)"""
    mode, root = copied
    with TestClient(port_app(root, mode)) as client:
        get = client.get("/items/stream")
        head = client.head("/items/stream")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers == get.headers
    with TestClient(original_main()) as client:
        assert client.head("/items/stream").status_code == 405


# --- end to end: events leave as they are yielded ----------------------------------------------

ENDLESS = {
    "routes/ticks/route.py": """
        import asyncio

        from fastapi.sse import EventSourceResponse

        from fastapi_route import route


        @route(response_class=EventSourceResponse)
        async def GET(request):
            yield {"tick": 0}
            await asyncio.sleep(3600)  # the next event never comes in this test
            yield {"tick": 1}
    """,
}


@pytest.mark.slow
def test_run_sends_each_event_as_it_is_yielded(tmp_path: Path) -> None:
    """Over a real socket, through `fastapi-route run`: the first event arrives while the
    generator is still waiting for the second, so nothing buffers the stream."""
    root = write_tree(tmp_path / "endless", ENDLESS)
    assert run_cli(["build", "--project", str(root)], cwd=tmp_path).returncode == 0
    with start_server(run_args(root), cwd=tmp_path, ready_path="/nowhere") as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(b"GET /ticks HTTP/1.1\r\nHost: test\r\n\r\n")
        received = b""
        while b'data: {"tick": 0}\n\n' not in received:
            chunk = conn.recv(4096)  # a timeout here (10 s) fails the test
            assert chunk, received
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 200")
    assert b"content-type: text/event-stream" in head
    assert b"tick\": 1" not in received
