"""One replay of the router (issue 16, part 2): `runtime.replay` runs the router's own routing
loop over the dispatcher's candidates with probes in place of the routes, and `explain` only
renders its decision. Checked here: a route inside a router app.py's configure includes (a node
of the app's routes on FastAPI >= 0.137, a copied route on 0.110) is named with its methods,
path and file:line; what the framework does not describe falls back to a note; docs.py's page
is known by identity; the replay uses dispatch's candidates, runs no handler and cannot reach a
low-priority route's handler; each checked against a real request where one applies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tree
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Router

from fastapi_route.explain import explain, introspect, render, request_scope, to_json
from fastapi_route.project import Project
from fastapi_route.runtime import replay as replaying
from fastapi_route.runtime.app import create_app, runtime_of
from fastapi_route.runtime.replay import Decision, replay

TREE = {
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/users/route.py": """
        def GET(request):
            return {"users": []}
    """,
    "routes/users/[user_id]/route.py": """
        def GET(request, user_id: int):
            return {"user": user_id}
    """,
    "routes/users/me/route.py": """
        import os

        def GET(request):
            open(os.environ["REPLAY_MARK"], "w").close()  # proof that the handler ran
            return {"me": True}
    """,
    # configure includes a router of its own, as a service adopting fastapi-route would.
    "app.py": """
        from fastapi import APIRouter

        legacy = APIRouter()


        @legacy.get("/legacy/{item_id}")
        def old(item_id: int):
            return {"old": item_id}


        def configure(app):
            app.include_router(legacy, prefix="/v0")
    """,
    "public/robots.txt": "User-agent: *\n",
}
OLD_LINE = 6  # where app.py defines `old`


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("replay") / "app", TREE)


@pytest.fixture
def mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ran"
    monkeypatch.setenv("REPLAY_MARK", str(path))
    return path


def lazy_app(root: Path, dispatch: bool = True) -> FastAPI:
    return create_app(Project(root), source="scan", schedule="lazy", dispatch=dispatch)


def test_a_route_of_an_included_router_is_named(tree: Path) -> None:
    e = explain(tree, "GET", "/v0/legacy/3", source="scan")
    assert e.outcome == "app_route" and e.route is not None
    assert (e.route.name, e.route.method, e.route.path, e.route.file, e.route.line) == (
        "old", "GET", "/v0/legacy/{item_id}", "app.py", OLD_LINE)
    assert e.answered_by == "app.py"
    text = render(e)
    assert (f"answered by the app's own route old, defined at app.py:{OLD_LINE}  "
            f"(GET /v0/legacy/{{item_id}})") in text
    assert "app.py's configure" in text and "include_router" in text
    with TestClient(create_app(Project(tree), source="scan")) as client:
        assert client.get("/v0/legacy/3").json() == {"old": 3}
        # Its 405 names the route's methods, as the router's answer does.
        e = explain(tree, "POST", "/v0/legacy/3", source="scan")
        response = client.post("/v0/legacy/3")
        assert (e.outcome, e.status, response.status_code) == ("method_not_allowed", 405, 405)
        assert e.route is not None and e.route.name == "old"
        assert set(e.allow) == {m.strip() for m in response.headers["allow"].split(",")}


@pytest.mark.parametrize("walk", ["missing", "failing"])
def test_what_the_framework_does_not_describe_falls_back_to_a_note(
    tree: Path, monkeypatch: pytest.MonkeyPatch, walk: str
) -> None:
    """Without FastAPI's walk of included routers (an older FastAPI, or a newer one whose walk
    changed), a copied route (0.110) is still read as it is; an included router's node (>=
    0.137) is reported as what it is known to be, with a note, never as a blank route."""

    def failing(routes: Any) -> Any:
        raise RuntimeError("changed")

    monkeypatch.setattr(introspect, "_iter_route_contexts",
                        None if walk == "missing" else failing)
    e = explain(tree, "GET", "/v0/legacy/3", source="scan")
    assert e.outcome == "app_route" and e.route is not None
    if e.route.name is None:  # a node of the app's routes (FastAPI >= 0.137)
        assert (e.route.method, e.route.path, e.route.file) == ("", "", None)
        assert any("does not describe" in note for note in e.notes)
        assert "answered by an entry of the app's router" in render(e)
    else:  # the included route was copied into the app's routes (FastAPI 0.110)
        assert (e.route.name, e.route.path, e.route.file) == (
            "old", "/v0/legacy/{item_id}", "app.py")


def test_docs_py_is_known_by_identity(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {
        "routes/index.py": TREE["routes/index.py"],
        "docs.py": """
            def handler(request, context):
                return "<h1>docs</h1>"
        """,
    })
    app = lazy_app(root)
    e = explain(root, "GET", "/docs", app=app)
    assert e.outcome == "app_route" and e.route is not None
    assert (e.route.file, e.route.path) == ("docs.py", "/docs")
    assert any("docs.py's page" in note for note in e.notes)
    page = runtime_of(app).pages.docs
    assert page is not None and runtime_of(app).is_docs_page(page)
    # A route of the same endpoint name is not docs.py's page: identity, not a name.
    assert not runtime_of(app).is_docs_page(app.router.routes[0])


def test_the_replay_tries_dispatchs_candidates(tree: Path) -> None:
    app = lazy_app(tree)
    dispatcher = runtime_of(app).dispatcher
    assert dispatcher is not None
    decision = replay(app, request_scope("GET", "/users/7"))
    view = dispatcher.view("/users/7")
    runtime = runtime_of(app)

    def same(routes: Any) -> list[int]:  # a LazyRoute the replay made real is still itself
        return [id(runtime.record_of(r) or r) for r in routes]

    assert same(decision.candidates) == same(view.routes)
    assert len(decision.candidates) < len(app.router.routes)
    # Without a dispatcher: every route of the router, and the same answers.
    plain = lazy_app(tree, dispatch=False)
    assert runtime_of(plain).dispatcher is None
    for method, url in [("GET", "/users/7"), ("GET", "/users/me"), ("PUT", "/users"),
                        ("GET", "/users/"), ("GET", "/robots.txt"), ("GET", "/nowhere"),
                        ("WS", "/users"), ("GET", "/v0/legacy/3"), ("GET", "/docs")]:
        assert to_json(explain(tree, method, url, app=app)) == to_json(
            explain(tree, method, url, app=plain)), (method, url)


def test_the_replay_runs_no_handler(tree: Path, mark: Path) -> None:
    app = lazy_app(tree)
    decision = replay(app, request_scope("GET", "/users/me"))
    assert decision.kind == "full" and not mark.exists()
    # The losers come from matches() on the candidates after the winner, in order.
    lazy = runtime_of(app).record_of(decision.route)
    assert lazy is not None and lazy.record.file == "routes/users/me/route.py"
    [loser] = [runtime_of(app).record_of(r) for r in decision.losers]
    assert loser is not None and loser.record.file == "routes/users/[user_id]/route.py"
    with TestClient(app) as client:
        assert client.get("/users/me").json() == {"me": True}
    assert mark.exists()  # the probe was the only thing that kept it from running


def test_each_kind_of_decision(tree: Path) -> None:
    app = lazy_app(tree)

    def kind(method: str, url: str) -> Decision:
        return replay(app, request_scope(method, url))

    assert kind("GET", "/users/7").scope["path_params"] == {"user_id": "7"}
    assert kind("PUT", "/users").kind == "partial"
    redirect = kind("GET", "/users/?x=1")
    assert (redirect.kind, redirect.status) == ("redirect", 307)
    assert redirect.location is not None and redirect.location.endswith("/users?x=1")
    twin = runtime_of(app).record_of(redirect.route)
    assert twin is not None and twin.record.path == "/users"
    assert kind("GET", "/robots.txt").kind == "default"
    assert kind("WS", "/nowhere").kind == "default"
    # The caller's scope is left as it was.
    scope = request_scope("GET", "/users/7")
    before = dict(scope)
    replay(app, scope)
    assert scope == before


def test_a_routing_loop_that_waits_is_not_a_decision() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(replaying._Waited):
        replaying._drive(waits())


def test_low_priority_routes_are_probes_too(tmp_path: Path, mark: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI >= 0.16x tries its low-priority routes (a frontend's files) after the redirect
    check: in the replay they are probes, so the frontend answers and nothing of it runs; if
    they cannot be replayed, none run and a note says so."""
    if not hasattr(FastAPI, "frontend"):
        pytest.skip("this FastAPI has no low-priority routes")
    root = write_tree(tmp_path / "app", {
        "routes/api/route.py": TREE["routes/index.py"],
        "dist/index.html": "<html>spa</html>",
        "app.py": """
            from pathlib import Path


            def configure(app):
                app.frontend("/", directory=Path(__file__).parent / "dist")
        """,
    })
    app = lazy_app(root)
    with TestClient(app) as client:
        served = client.get("/index.html")
    assert served.status_code == 200 and "spa" in served.text
    decision = replay(app, request_scope("GET", "/index.html"))
    assert (decision.kind, decision.low_priority) == ("full", True)
    e = explain(root, "GET", "/index.html", app=app)
    assert e.outcome == "app_route"
    assert any("low-priority" in note for note in e.notes)
    assert "answered by an entry of the app's router\n" in render(e)

    # FastAPI's walk renamed: the router's own low-priority list is probed instead.
    monkeypatch.setattr(replaying, "ITERATE_LOW_PRIORITY", "_renamed")
    assert replay(app, request_scope("GET", "/index.html")).low_priority

    def broken(view: Router) -> Any:
        raise RuntimeError("changed")

    # They cannot be read at all: none runs, the default is reported, with a note.
    monkeypatch.setattr(replaying, "_low_priority_entries", broken)
    decision = replay(app, request_scope("GET", "/index.html"))
    assert decision.kind == "default" and decision.note is not None
    assert "could not be replayed" in decision.note
    assert any("could not be replayed" in n for n in explain(root, "GET", "/index.html",
                                                              app=app).notes)


def test_a_default_configure_set_is_named_not_guessed(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {
        "routes/index.py": TREE["routes/index.py"],
        "public/robots.txt": "User-agent: *\n",
        "app.py": """
            from starlette.responses import PlainTextResponse


            def configure(app):
                app.router.default = PlainTextResponse("gone", status_code=410)
        """,
    })
    app = lazy_app(root)
    e = explain(root, "GET", "/robots.txt", app=app)
    assert (e.outcome, e.status, e.static_file) == ("not_found", None, None)
    assert e.not_found == "the router's default that app.py's configure set"
    assert "no route matches: the router's default that app.py's configure set" in render(e)
    with TestClient(app) as client:
        assert client.get("/robots.txt").status_code == 410
