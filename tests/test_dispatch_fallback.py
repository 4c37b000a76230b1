"""The trie dispatcher leans on how Starlette builds a router; where a router is built another
way, the app must still start and serve, through Starlette's own routing, with one warning."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tree
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from fastapi_route.project import Project
from fastapi_route.runtime import dispatch
from fastapi_route.runtime.app import create_app, runtime_of

TREE = {
    "routes/index.py": "def GET(request):\n    return {'home': True}\n",
    "routes/users/[user_id]/route.py":
        "def GET(request, user_id: int):\n    return {'id': user_id}\n",
}


class Wrapper:
    """A layer around the routing loop that does not say what it wraps (no `.app`)."""

    def __init__(self, inner: ASGIApp) -> None:
        self._inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._inner(scope, receive, send)


def _answers(app: FastAPI) -> list[tuple[int, Any]]:
    with TestClient(app) as client:
        return [(r.status_code, r.json()) for r in (
            client.get("/"), client.get("/users/7"), client.get("/users/x"),
            client.get("/nowhere"),
        )]


def test_an_unknown_middleware_stack_leaves_starlette_routing_in_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    app.get("/ping")(lambda: {"pong": True})
    app.router.middleware_stack = Wrapper(app.router.app)
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        assert dispatch.install(app.router) is None
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "trie dispatch is off" in caplog.records[0].message
    assert isinstance(app.router.middleware_stack, Wrapper)  # untouched
    assert TestClient(app).get("/ping").json() == {"pong": True}


def test_a_router_without_a_routing_loop_is_left_alone() -> None:
    class Bare:
        routes: tuple[Any, ...] = ()

    assert dispatch.install(Bare()) is None  # type: ignore[arg-type]


def test_an_app_whose_router_cannot_be_dispatched_still_serves_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_tree(tmp_path, TREE)
    expected = _answers(create_app(Project(tmp_path), source="scan"))

    def broken_copy(self: dispatch.Dispatcher, path: str) -> Any:
        raise TypeError("this router cannot be copied")

    monkeypatch.setattr(dispatch.Dispatcher, "view", broken_copy)
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        app = create_app(Project(tmp_path), source="scan")
    assert runtime_of(app).dispatcher is None
    assert any("cannot be copied" in r.message for r in caplog.records)
    assert _answers(app) == expected
    assert expected[1] == (200, {"id": 7}) and expected[2][0] == 422
