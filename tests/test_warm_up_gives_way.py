"""The warm-up gives way to requests under way (runtime/activity.py), and still ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fastapi_route.project import Project
from fastapi_route.runtime import activity
from fastapi_route.runtime.activity import REQUESTS
from fastapi_route.runtime.app import create_app, runtime_of
from tests.conftest import write_tree

ROUTES = {f"routes/r{i}/route.py": f"def GET(request):\n    return {{'r': {i}}}\n"
          for i in range(20)}


def _file_routes(tmp_path: Path):  # type: ignore[no-untyped-def]
    app = create_app(Project(write_tree(tmp_path / "app", ROUTES)), source="scan",
                     schedule="warm")
    return app, runtime_of(app).file_routes


def _made(file_routes) -> int:  # type: ignore[no-untyped-def]
    return sum(lazy.real is not None for lazy in file_routes.lazy)


def test_the_warm_up_waits_while_a_request_is_under_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity, "STARVED", 3600.0)  # never runs a slice anyway
    _, file_routes = _file_routes(tmp_path)

    async def scenario() -> None:
        REQUESTS.begin()
        try:
            warm_up = asyncio.create_task(file_routes.warm_up())
            await asyncio.sleep(0.2)
            assert _made(file_routes) == 0  # nothing registered behind the request's back
        finally:
            REQUESTS.end()
        await asyncio.wait_for(warm_up, 60)
        assert file_routes.all_real() and _made(file_routes) == len(ROUTES)

    asyncio.run(scenario())


def test_the_warm_up_ends_under_steady_load(tmp_path: Path) -> None:
    """A request always under way: the warm-up still runs a slice every STARVED seconds."""
    _, file_routes = _file_routes(tmp_path)

    async def scenario() -> None:
        REQUESTS.begin()
        try:
            await asyncio.wait_for(file_routes.warm_up(), 60)
        finally:
            REQUESTS.end()
        assert _made(file_routes) == len(ROUTES)

    asyncio.run(scenario())


def test_a_request_counts_itself_in_and_out(tmp_path: Path) -> None:
    seen: list[int] = []
    root = write_tree(tmp_path / "app", {
        "routes/route.py": (
            "from fastapi_route.runtime.activity import REQUESTS\n"
            "async def GET(request):\n"
            "    return {'under_way': REQUESTS.under_way}\n"),
    })
    app = create_app(Project(root), source="scan", schedule="eager")
    before = REQUESTS.under_way
    client = TestClient(app)
    seen.append(client.get("/").json()["under_way"])
    assert seen == [before + 1]
    assert REQUESTS.under_way == before
    assert client.get("/nothing").status_code == 404
    assert REQUESTS.under_way == before


def test_a_request_counts_out_once_its_response_has_started() -> None:
    """A streamed response (server-sent events, a long download) is no longer under way
    once it has started: the warm-up does not wait for its body."""
    before = REQUESTS.under_way
    seen: list[int] = []

    async def streaming(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(REQUESTS.under_way)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        seen.append(REQUESTS.under_way)  # the body is still to come
        await send({"type": "http.response.body", "body": b"x"})

    async def failing(scope, receive, send):  # type: ignore[no-untyped-def]
        raise RuntimeError("no response at all")

    async def sent(message):  # type: ignore[no-untyped-def]
        pass

    async def scenario() -> None:
        await REQUESTS.serving(streaming, {"type": "http"}, None, sent)  # type: ignore[arg-type]
        with pytest.raises(RuntimeError):
            await REQUESTS.serving(failing, {"type": "http"}, None, sent)  # type: ignore[arg-type]

    asyncio.run(scenario())
    assert seen == [before + 1, before]
    assert REQUESTS.under_way == before
