"""SPEC 9 parity: FastAPI's "Stream JSON Lines" tutorial against its port, examples/json_lines.

Each handler is a generator (`yield`), async or not, with or without a return annotation;
fastapi-route registers it as it is, so FastAPI itself sees the `yield` and streams one JSON
document per line (`application/jsonl`). The tutorial's app is rebuilt here; every request
gets the same status, headers and bytes from both, in every mode the runtime builds an app
(parity.PORT_MODES), and both `/openapi.json` documents mean the same. Then how a generator
handler reaches FastAPI: the function FastAPI inspects behind the registered endpoint is the
user's own generator function, also where fastapi-route adapts the call (a catch-all's
segments, a typed segment), and the same with a streaming response class of one's own (the
"Stream Data" tutorial's raw chunks). FastAPI streams generator path operations from 0.135
on: with an older FastAPI the module is skipped.
"""

from __future__ import annotations

import inspect
import json
import warnings
from collections.abc import AsyncIterable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "fastapi.sse",  # came with the streaming of generator path operations
    reason="FastAPI streams JSON Lines from generator path operations since 0.135",
)

from conftest import copy_example, write_tree
from fastapi import FastAPI
from fastapi.routing import APIRoute
from parity import PORT_MODES, assert_same_meaning, port_app
from pydantic import BaseModel

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "json_lines"


class Item(BaseModel):
    name: str
    description: str | None


ITEMS = [
    Item(name="Plumbus", description="A multi-purpose household device."),
    Item(name="Portal Gun", description="A portal opening device."),
    Item(name="Meeseeks Box", description="A box that summons a Meeseeks."),
]


def original_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/stream")
    async def items_async() -> AsyncIterable[Item]:
        for item in ITEMS:
            yield item

    @app.get("/items/stream-no-async")
    def items_sync() -> Iterable[Item]:
        yield from ITEMS

    @app.get("/items/stream-no-annotation")
    async def items_async_bare():  # type: ignore[no-untyped-def]
        for item in ITEMS:
            yield item

    @app.get("/items/stream-no-async-no-annotation")
    def items_sync_bare():  # type: ignore[no-untyped-def]
        yield from ITEMS

    return app


URLS = ["/items/stream", "/items/stream-no-async", "/items/stream-no-annotation",
        "/items/stream-no-async-no-annotation"]


@pytest.fixture(scope="module")
def original() -> Iterator[TestClient]:
    with TestClient(original_app()) as client:
        yield client


@pytest.fixture(params=PORT_MODES)
def ported(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    root = copy_example(EXAMPLE, tmp_path)
    with TestClient(port_app(root, request.param)) as client:
        yield client


def exchange(client: TestClient, method: str, url: str) -> tuple[int, dict[str, str], bytes]:
    response = client.request(method, url)
    return response.status_code, dict(response.headers), response.content


@pytest.mark.parametrize("url", [*URLS, "/items/streams", "/items"])
def test_same_lines(original: TestClient, ported: TestClient, url: str) -> None:
    assert exchange(ported, "GET", url) == exchange(original, "GET", url)


def test_the_yardstick_streams_lines(original: TestClient) -> None:
    for url in URLS:
        response = original.get(url)
        assert response.headers["content-type"] == "application/jsonl"
        lines = response.text.splitlines()
        assert [json.loads(line) for line in lines] == [item.model_dump() for item in ITEMS]


def test_openapi_means_the_same(original: TestClient, ported: TestClient) -> None:
    want = original.get("/openapi.json").json()
    got = ported.get("/openapi.json").json()
    assert_same_meaning(want, got)
    content = got["paths"]["/items/stream"]["get"]["responses"]["200"]["content"]
    assert content["application/jsonl"]["itemSchema"] == {"$ref": "#/components/schemas/Item"}


# --- how a generator handler reaches FastAPI -------------------------------------------------

GENERATORS = {
    # A catch-all: fastapi-route turns FastAPI's string into the list of segments.
    "routes/files/[...path]/route.py": """
        async def GET(request, path: list[str]):
            for segment in path:
                yield {"segment": segment}
    """,
    # A typed segment, an unannotated parameter: an int, as the segment says.
    "routes/counts/[n=int]/route.py": """
        def GET(request, n):
            for i in range(n):
                yield {"i": i, "type": type(n).__name__}
    """,
}


@pytest.mark.parametrize("mode", PORT_MODES)
def test_fastapi_inspects_the_users_own_generator_function(mode: str, tmp_path: Path) -> None:
    """The endpoint registered for a generator handler is the thin adapter every handler gets
    (`endpoints.endpoint_for`), and behind it, where FastAPI looks (`inspect.unwrap`, as it
    does for any decorated endpoint), the user's own generator function: FastAPI streams it
    as it would stream that function registered by hand, with the adapted arguments."""
    root = write_tree(tmp_path / "gen", GENERATORS)
    app = port_app(root, mode)
    with TestClient(app) as client:
        files = client.get("/files/a/b/c")
        counts = client.get("/counts/3")
    assert files.headers["content-type"] == "application/jsonl"
    assert [json.loads(x) for x in files.text.splitlines()] == [
        {"segment": "a"}, {"segment": "b"}, {"segment": "c"}]
    assert [json.loads(x) for x in counts.text.splitlines()] == [
        {"i": 0, "type": "int"}, {"i": 1, "type": "int"}, {"i": 2, "type": "int"}]

    routes = {r.path: r for r in app.routes if isinstance(r, APIRoute)}
    files_route, counts_route = routes["/files/{path:path}"], routes["/counts/{n:int}"]
    assert inspect.isasyncgenfunction(inspect.unwrap(files_route.endpoint))
    assert inspect.isgeneratorfunction(inspect.unwrap(counts_route.endpoint))
    for route in (files_route, counts_route):
        assert inspect.unwrap(route.endpoint).__module__.endswith(".route")  # the file's
        assert (route.is_json_stream, route.is_sse_stream) == (True, False)
        assert route.response_model is None
    # Documented as FastAPI documents a stream (no 204 read from a generator's end).
    doc = client.get("/openapi.json").json()["paths"]["/files/{path}"]["get"]
    assert set(doc["responses"]) == {"200", "422"}
    assert "application/jsonl" in doc["responses"]["200"]["content"]


def test_a_stream_reads_its_query_while_streaming(tmp_path: Path) -> None:
    """FastAPI solves the handler's parameters before the first line, as for any endpoint."""
    root = write_tree(tmp_path / "q", {"routes/numbers/route.py": """
        from collections.abc import Iterable

        def GET(request, upto: int = 2) -> Iterable[int]:
            yield from range(upto)
    """})
    app: Any = port_app(root, "lazy")
    with TestClient(app) as client:
        assert client.get("/numbers", params={"upto": 4}).text == "0\n1\n2\n3\n"
        assert client.get("/numbers", params={"upto": "x"}).status_code == 422


# --- the same mechanism with a response class of one's own ("Stream Data") -------------------

STORY = ["Rick: Morty! You gotta come on.", "Morty: What, Rick?", "Rick: A surprise for you."]

STREAM_DATA_TREE = {
    "routes/story/stream/route.py": f"""
        from collections.abc import AsyncIterable

        from fastapi.responses import StreamingResponse

        from fastapi_route import route

        STORY = {STORY!r}


        @route(response_class=StreamingResponse)
        async def GET(request) -> AsyncIterable[str]:
            for line in STORY:
                yield line
    """,
    "routes/image/stream/route.py": """
        from fastapi.responses import StreamingResponse

        from fastapi_route import route


        class PNGStreamingResponse(StreamingResponse):
            media_type = "image/png"


        @route(response_class=PNGStreamingResponse)
        def GET(request):
            yield b"\\x89PNG\\r\\n"
            yield b"the rest"
    """,
}


def original_stream_data_app() -> FastAPI:
    from fastapi.responses import StreamingResponse

    class PNGStreamingResponse(StreamingResponse):
        media_type = "image/png"

    app = FastAPI()

    @app.get("/story/stream", response_class=StreamingResponse)
    async def story() -> AsyncIterable[str]:
        for line in STORY:
            yield line

    @app.get("/image/stream", response_class=PNGStreamingResponse)
    def image():  # type: ignore[no-untyped-def]
        yield b"\x89PNG\r\n"
        yield b"the rest"

    return app


@pytest.mark.parametrize("mode", PORT_MODES)
def test_a_generator_with_a_streaming_response_class(mode: str, tmp_path: Path) -> None:
    """FastAPI's "Stream Data": with `response_class=StreamingResponse` (or a subclass) the
    chunks a generator yields are sent as they are, not as JSON lines."""
    port = port_app(write_tree(tmp_path / "data", STREAM_DATA_TREE), mode)
    with TestClient(original_stream_data_app()) as original, TestClient(port) as ported:
        for url in ("/story/stream", "/image/stream"):
            assert exchange(ported, "GET", url) == exchange(original, "GET", url)
        assert original.get("/story/stream").text == "".join(STORY)
        assert original.get("/image/stream").headers["content-type"] == "image/png"
        assert_same_meaning(original.get("/openapi.json").json(),
                            ported.get("/openapi.json").json())
