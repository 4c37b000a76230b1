"""The first /openapi.json does not stop the server (issue 17): while it is made (every route
registered, then FastAPI's document), other requests are answered; the document is the eager
app's. Real concurrency in one event loop (httpx over ASGI); behaviour, not seconds: every wait
is bounded, none is asserted on."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import write_tree

from fastapi_route.config import load_config
from fastapi_route.pipeline.build import build
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app, runtime_of
from fastapi_route.runtime.ondemand import LazyRoute, OnDemandRoutes

FILES = 200  # two routes each: enough that registering them all takes many slices
BOUND = 30.0  # seconds: a bound on any wait, never an assertion on speed

TREE = {
    "routes/ping/route.py": """
        def GET(request):
            return {"pong": True}
    """,
    **{f"routes/things/t{i}/[item_id]/route.py": f"""
        from pydantic import BaseModel


        class Thing{i}(BaseModel):
            name: str
            size: int = {i}


        def GET(request, item_id: int) -> Thing{i}:
            return Thing{i}(name=str(item_id))


        async def PUT(request, item_id: int, thing: Thing{i}) -> Thing{i}:
            return thing
    """ for i in range(FILES)},
}


@pytest.fixture(autouse=True)
def _not_under_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process there is no `run` to stop (failure.py)."""
    monkeypatch.delenv("FASTAPI_ROUTE_SUPERVISOR", raising=False)
    monkeypatch.delenv("FASTAPI_ROUTE_SCHEDULE", raising=False)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_tree(tmp_path_factory.mktemp("openapi") / "app", TREE)
    build(root, load_config(root))
    return root


def app_for(root: Path, schedule: str) -> Any:
    return create_app(Project(root), source="cache", schedule=schedule)  # type: ignore[arg-type]


def file_routes(app: Any) -> OnDemandRoutes:
    routes: OnDemandRoutes = runtime_of(app).file_routes
    return routes


def lazy_left(app: Any) -> int:
    return sum(isinstance(r, LazyRoute) for r in app.router.routes)


def serve(app: Any, scenario: Callable[[httpx.AsyncClient], Awaitable[Any]],
          raise_app_exceptions: bool = True) -> Any:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     timeout=BOUND) as client:
            return await asyncio.wait_for(scenario(client), BOUND)

    return asyncio.run(main())


def eager_document(root: Path) -> Any:
    return json.loads(json.dumps(app_for(root, "eager").openapi()))


@pytest.mark.parametrize(("schedule", "warm_up"), [("warm", True), ("warm", False),
                                                   ("lazy", False)])
def test_requests_are_answered_while_the_first_document_is_made(
    tree: Path, schedule: str, warm_up: bool,
) -> None:
    """While /openapi.json waits for every route to be registered, a live route answers, more
    than once, with routes still to register; the document is then the eager app's."""
    app = app_for(tree, schedule)

    async def scenario(client: httpx.AsyncClient) -> tuple[list[int], Any]:
        assert (await client.get("/ping")).json() == {"pong": True}  # live from here on
        warming = asyncio.create_task(file_routes(app).warm_up()) if warm_up else None
        document = asyncio.create_task(client.get("/openapi.json"))
        left_at_each_answer = []
        while not document.done():
            response = await client.get("/ping")
            assert response.status_code == 200
            if not document.done():
                left_at_each_answer.append(lazy_left(app))
        if warming is not None:
            await warming
        return left_at_each_answer, (await document).json()

    left, document = serve(app, scenario)
    assert len(left) >= 2, "no request was answered while the document was made"
    assert left[0] > 0, "the first request answered waited for every route to be registered"
    assert lazy_left(app) == 0
    assert document == eager_document(tree)
    assert len(document["paths"]) == FILES + 1


def blocking_openapi(app: Any, release: threading.Event) -> tuple[threading.Event, list[int]]:
    """Put in place of app.openapi (as configure may) a document that is made only once the
    test releases it; returns (entered, calls)."""
    entered = threading.Event()
    calls: list[int] = []
    described = app.openapi

    def openapi() -> Any:
        calls.append(1)
        entered.set()
        release.wait(BOUND)
        return described()

    app.openapi = openapi
    file_routes(app).keep_openapi_complete()  # what create_app does after configure
    return entered, calls


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("schedule", ["warm", "eager"])
def test_the_document_is_made_off_the_event_loop(tree: Path, schedule: str) -> None:
    """The document itself (app.openapi()) runs while the loop serves: a request is answered
    while app.openapi() is held inside, which could never happen on the loop."""
    app = app_for(tree, schedule)
    release = threading.Event()
    entered, calls = blocking_openapi(app, release)

    async def scenario(client: httpx.AsyncClient) -> tuple[int, bool, Any]:
        document = asyncio.create_task(client.get("/openapi.json"))
        await until(entered.is_set)
        answered = (await client.get("/ping")).status_code
        pending = not document.done()
        release.set()
        return answered, pending, (await document).json()

    try:
        answered, pending, document = serve(app, scenario)
    finally:
        release.set()
    assert (answered, pending) == (200, True)
    assert calls == [1], "FastAPI's endpoint made the document again instead of using it"
    assert document == eager_document(tree)


def test_concurrent_first_requests_share_one_document(tree: Path) -> None:
    app = app_for(tree, "warm")
    release = threading.Event()
    entered, calls = blocking_openapi(app, release)

    async def scenario(client: httpx.AsyncClient) -> list[Any]:
        documents = [asyncio.create_task(client.get("/openapi.json")) for _ in range(3)]
        await until(entered.is_set)
        await asyncio.sleep(0.05)  # the other two are waiting for it too, not making their own
        release.set()
        return [(await d).json() for d in documents]

    try:
        first, second, third = serve(app, scenario)
    finally:
        release.set()
    assert calls == [1]
    assert first == second == third == eager_document(tree)


def test_the_switch_interval_is_restored_and_a_failure_is_not_kept(tree: Path) -> None:
    """A document that fails answers 500 (as FastAPI's would) and the next request makes it
    again; the interpreter's switch interval and the collector's thresholds are what they
    were."""
    app = app_for(tree, "warm")
    described = app.openapi
    calls: list[int] = []

    def openapi() -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the first document fails")
        return described()

    app.openapi = openapi
    file_routes(app).keep_openapi_complete()
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()

    async def scenario(client: httpx.AsyncClient) -> tuple[int, int, int]:
        failed = (await client.get("/openapi.json")).status_code
        return failed, (await client.get("/openapi.json")).status_code, len(calls)

    assert serve(app, scenario, raise_app_exceptions=False) == (500, 200, 2)
    assert (sys.getswitchinterval(), gc.get_threshold()) == (interval, thresholds)


def test_what_the_documents_peak_left_is_given_back_in_its_thread_once_it_is_served(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the document is made and its waiters have it, its thread asks the C allocator to
    give back what it kept from the peak (`collector.give_back`): not on the loop, not in
    the waiters' time, once per document made, not per request."""
    from fastapi_route.runtime import collector

    app = app_for(tree, "warm")
    asked: list[tuple[str, bool]] = []
    done = threading.Event()

    def give_back() -> bool:
        asked.append((threading.current_thread().name, app.openapi_schema is not None))
        done.set()
        return True

    monkeypatch.setattr(collector, "give_back", give_back)

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        first = (await client.get("/openapi.json")).status_code
        assert done.wait(30)
        second = (await client.get("/openapi.json")).status_code
        return [first, second]

    # The second request renders FastAPI's cached document: no peak, nothing to give back.
    assert serve(app, scenario) == [200, 200]
    assert asked == [("fastapi-route openapi", True)]


def test_a_failure_to_give_memory_back_fails_no_document(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi_route.runtime import collector

    app = app_for(tree, "warm")

    def give_back() -> bool:
        raise OSError("no malloc_trim today")

    monkeypatch.setattr(collector, "give_back", give_back)

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        return [(await client.get("/openapi.json")).status_code for _ in range(2)]

    assert serve(app, scenario) == [200, 200]
    assert json.loads(json.dumps(app.openapi())) == eager_document(tree)


def test_app_openapi_called_directly_is_complete_and_synchronous(tree: Path) -> None:
    for schedule in ("warm", "lazy"):
        app = app_for(tree, schedule)
        assert lazy_left(app) > 0
        assert json.loads(json.dumps(app.openapi())) == eager_document(tree)
        assert lazy_left(app) == 0


def test_under_run_what_the_slices_make_is_frozen_out_of_the_collectors_reach(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under `run` (its supervisor exported) the slices end with gc.freeze(); outside it they
    never freeze (a test suite, `dev`: apps that are dropped)."""
    outside = app_for(tree, "warm")
    frozen = gc.get_freeze_count()
    serve(outside, lambda client: file_routes(outside).make_all_real())
    assert gc.get_freeze_count() == frozen
    monkeypatch.setenv("FASTAPI_ROUTE_SUPERVISOR", f"{os.getpid()}:{tree / 'no-report'}")
    under_run = app_for(tree, "warm")
    try:
        serve(under_run, lambda client: file_routes(under_run).make_all_real())
        assert lazy_left(under_run) == 0
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()


def test_inside_a_lifespan_the_warm_up_freezes_and_its_end_unfreezes(tree: Path) -> None:
    """A lifespan that runs the warm-up is an app serving (`uvicorn main:app` with an
    `include`d tree, a TestClient used with `with`): its slices freeze what they made, and the
    end of the last such lifespan gives every frozen object back to the collector, so apps a
    test suite drops are still collected."""
    from fastapi.testclient import TestClient

    app = app_for(tree, "warm")
    with TestClient(app) as client:
        # Waits for the warm-up the lifespan started, in the app's own loop (no polling).
        client.portal.call(file_routes(app).make_all_real)
        assert file_routes(app).all_real()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    # A process that froze objects itself (before forking workers) keeps them frozen.
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        again = app_for(tree, "warm")
        with TestClient(again):
            pass
        assert gc.get_freeze_count() >= before > 0
    finally:
        gc.unfreeze()


def test_behind_a_root_path_fastapi_adds_it_to_the_servers(tree: Path) -> None:
    """With a root path to add to the servers, FastAPI's own endpoint answers (once every route
    is real), as on every FastAPI version."""
    app = app_for(tree, "warm")
    release = threading.Event()
    release.set()
    _, calls = blocking_openapi(app, release)

    async def scenario() -> Any:
        transport = httpx.ASGITransport(app=app, root_path="/api")
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/openapi.json")).json()

    document = asyncio.run(asyncio.wait_for(scenario(), BOUND))
    assert calls == [1]
    assert {"url": "/api"} in document["servers"]
    assert document["paths"] == eager_document(tree)["paths"]


def test_render_is_jsonresponses_body(tree: Path) -> None:
    from starlette.responses import JSONResponse

    from fastapi_route.runtime.openapi import render

    document = app_for(tree, "eager").openapi()
    odd = {"paths": {"/é": {"get": {"responses": {200: {"x": [1.5, None, True, "\u2028"]}}}},
                     "/b": {}}, "info": {"title": "ünï \"q\""}, "n": [{"a": {"b": {}}}]}
    for value in (document, odd, {}, [], "s"):
        assert render(value) == JSONResponse(value).body
    with pytest.raises(ValueError):
        render({"paths": {"/": {"get": {"x": float("nan")}}}})


def test_an_earlier_freeze_of_the_process_given_back_does_not_keep_ours_frozen(
        tree: Path) -> None:
    """Our first freeze found objects the process had frozen itself (dev's heap, a test),
    which it gave back since: the end of the lifespan still gives ours back."""
    from fastapi.testclient import TestClient

    from fastapi_route.runtime.ondemand import SERVING

    gc.freeze()  # the process's own
    try:
        SERVING.freeze()  # ours, on top: not ours alone to give back, then
    finally:
        gc.unfreeze()  # the process gives everything back
    app = app_for(tree, "warm")
    with TestClient(app) as client:
        client.portal.call(file_routes(app).make_all_real)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
