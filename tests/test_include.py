"""SPEC 12.1: `fastapi_route.include(app, project, prefix=...)` adds a project's route tree to a
FastAPI app the user made. The tree keeps its precedence, typed segments, layouts,
middleware.py, websockets, cache checks and schedule; the app keeps its routes, lifespan,
exception handlers, middleware, docs and 404; a method and path answered twice is an error
naming both sides."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tree
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException as StarletteHTTPException

import fastapi_route
from fastapi_route.config import load_config
from fastapi_route.errors import FastAPIRouteError, ProjectNotFound
from fastapi_route.host import RouteConflict
from fastapi_route.pipeline.build import build
from fastapi_route.runtime import dispatch
from fastapi_route.runtime.app import StaleCacheError, trees_of

SCHEDULES = ["eager", "warm", "lazy"]

ORDERS = {
    "routes/items/route.py": """
        from ..._helpers import stamp

        def GET(request):
            return {"items": [], "db": request.state.db, "stamp": stamp()}

        def POST(request):
            return {"created": True}
    """,
    "routes/items/[item_id=int]/route.py": """
        def GET(request, item_id: int):
            return {"item_id": item_id, "type": "int",
                    "self": str(request.url_for("get_v2_items_item_id", item_id=item_id))}
    """,
    "routes/items/[slug]/route.py": """
        def GET(request, slug: str):
            return {"slug": slug}
    """,
    "routes/items/new/route.py": """
        def GET(request):
            return {"static": True}
    """,
    "routes/admin/_layout.py": """
        from fastapi import Depends, Header, HTTPException

        def token(x_token: str = Header("")):
            if x_token != "secret":
                raise HTTPException(403, "no token")

        dependencies = [Depends(token)]
        tags = ["admin"]
    """,
    "routes/admin/route.py": """
        def GET(request):
            return {"admin": True}
    """,
    "routes/live/route.py": """
        async def WEBSOCKET(websocket):
            await websocket.accept()
            await websocket.send_text("live")
            await websocket.close()
    """,
    "routes/boom/route.py": """
        from fastapi import HTTPException

        def GET(request):
            raise HTTPException(418, "teapot")
    """,
    "middleware.py": """
        async def middleware(request, call_next):
            response = await call_next(request)
            response.headers["x-tree"] = "orders"
            return response
    """,
    "_helpers.py": """
        def stamp():
            return "orders"
    """,
}


def host_app(events: list[str] | None = None) -> FastAPI:
    """An app as a team would already have it: its own lifespan, route, exception handler and
    middleware."""
    seen = events if events is not None else []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        seen.append("start")
        yield {"db": "host-db"}
        seen.append("stop")

    app = FastAPI(lifespan=lifespan, title="Host")

    @app.get("/v1/items")
    def legacy_items() -> list[str]:
        return ["legacy"]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"host_error": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.middleware("http")
    async def stamp(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-host"] = "yes"
        return response

    return app


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "orders", ORDERS)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_the_tree_serves_below_the_prefix_with_the_hosts_lifespan_handlers_and_middleware(
    orders: Path, schedule: str
) -> None:
    events: list[str] = []
    app = host_app(events)
    tree = fastapi_route.include(app, orders, prefix="/v2", source="scan",
                                 schedule=schedule)  # type: ignore[arg-type]
    assert tree.prefix == "/v2" and trees_of(app) == [tree]
    with TestClient(app) as client:
        assert events == ["start"]
        r = client.get("/v2/items")
        # The host's lifespan state reaches the tree's handler; the tree's helper is its own.
        assert r.json() == {"items": [], "db": "host-db", "stamp": "orders"}
        # middleware.py wraps the tree's routes only; the host's middleware wraps all.
        assert r.headers["x-tree"] == "orders" and r.headers["x-host"] == "yes"
        legacy = client.get("/v1/items")
        assert legacy.json() == ["legacy"] and "x-tree" not in legacy.headers
        assert client.post("/v2/items").json() == {"created": True}
        # Precedence and typed segments: static > [item_id=int] > [slug].
        assert client.get("/v2/items/new").json() == {"static": True}
        assert client.get("/v2/items/7").json()["type"] == "int"
        assert client.get("/v2/items/seven").json() == {"slug": "seven"}
        # url_for: the operation id, the prefix's words included.
        assert client.get("/v2/items/7").json()["self"] == "http://testserver/v2/items/7"
        # A layout's dependency; the host's exception handler answers the tree's errors.
        assert client.get("/v2/admin").status_code == 403
        assert client.get("/v2/admin").json() == {"host_error": "no token"}
        assert client.get("/v2/admin", headers={"x-token": "secret"}).json() == {"admin": True}
        assert client.get("/v2/boom").json() == {"host_error": "teapot"}
        # A 404 and a 405 are the host's.
        assert client.get("/v2/nowhere").json() == {"host_error": "Not Found"}
        assert client.delete("/v2/items").status_code == 405
        assert client.delete("/v2/items").headers["allow"] == "GET, HEAD, POST"
        with client.websocket_connect("/v2/live") as ws:
            assert ws.receive_text() == "live"
        # The tree's URLs are not served without the prefix.
        assert client.get("/items").status_code == 404
        document = client.get("/openapi.json").json()
    assert events == ["start", "stop"]
    assert document["info"]["title"] == "Host"
    assert {"/v1/items", "/v2/items", "/v2/items/{item_id}", "/v2/items/{slug}",
            "/v2/items/new", "/v2/admin", "/v2/boom"} <= set(document["paths"])
    assert document["paths"]["/v2/items"]["get"]["operationId"] == "get_v2_items"
    assert document["paths"]["/v2/admin"]["get"]["tags"] == ["admin"]


def test_the_warm_up_starts_with_the_hosts_lifespan(orders: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    app = host_app()
    tree = fastapi_route.include(app, orders, prefix="/v2", source="scan", schedule="warm")
    routes = tree.file_routes
    assert not any(lazy.real for lazy in routes.lazy)  # nothing made before the app starts
    with caplog.at_level(logging.INFO, logger="fastapi_route"), TestClient(app) as client:
        assert client.get("/v1/items").status_code == 200
        # Waits, in the app's own loop, for the warm-up the lifespan started (no polling).
        client.portal.call(routes.make_all_real)
        assert routes.all_real()
        for _ in range(100):  # the warm-up's task says so once it next runs
            if "routes registered in" in caplog.text:
                break
            client.portal.call(asyncio.sleep, 0.01)
        assert all(router_route is not lazy for lazy in routes.lazy
                   for router_route in app.router.routes)
    assert f"{len(routes.lazy)} routes registered in" in caplog.text


def test_the_app_routes_are_dispatched_by_one_trie(orders: Path, tmp_path: Path) -> None:
    other = write_tree(tmp_path / "billing", {"routes/invoices/[n=int]/route.py": """
        def GET(request, n: int):
            return {"invoice": n}
    """})
    app = host_app()
    fastapi_route.include(app, orders, prefix="/v2", source="scan")
    fastapi_route.include(app, other, prefix="/billing", source="scan")
    found = dispatch.installed(app.router)
    assert found is not None
    # One dispatcher for the app: its view of a path holds the few routes that could match.
    view = found.view("/billing/invoices/3")
    assert [getattr(r, "path", None) for r in view.routes] == ["/billing/invoices/{n:int}"]
    with TestClient(app) as client:
        assert client.get("/billing/invoices/3").json() == {"invoice": 3}
        assert client.get("/v2/items/3").json()["item_id"] == 3
        assert client.get("/v1/items").json() == ["legacy"]
        assert "x-tree" not in client.get("/billing/invoices/3").headers


def test_the_tree_is_served_from_its_cache_checked_as_run_checks_it(
    orders: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(FastAPIRouteError, match="fastapi-route build"):
        fastapi_route.include(FastAPI(), orders, prefix="/v2")  # no build yet
    build(orders, load_config(orders))
    app = FastAPI()
    fastapi_route.include(app, orders, prefix="/v2")
    with TestClient(app) as client:
        assert client.get("/v2/items/new").json() == {"static": True}
    write_tree(orders, {"routes/extra/route.py": "def GET(request):\n    return 1\n"})
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        fastapi_route.include(FastAPI(), orders, prefix="/v2")
    assert "the build cache is stale" in caplog.text
    with pytest.raises(StaleCacheError):
        fastapi_route.include(FastAPI(), orders, prefix="/v2", strict=True)


@pytest.mark.parametrize(("variables", "source"), [
    ({"FASTAPI_ENV": "development"}, "scan"),  # `fastapi dev main.py`
    ({"FASTAPI_ENV": "development", "FASTAPI_ROUTE_DEV": "0"}, "cache"),
    ({"FASTAPI_ROUTE_DEV": "1"}, "scan"),
    ({}, "cache"),
])
def test_the_source_follows_fastapi_dev_unless_given(
    orders: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], source: str
) -> None:
    """Under `fastapi dev main.py` a new route file is served on the reloader's restart
    without a build; elsewhere the cache is the default, and `source=` always wins."""
    monkeypatch.delenv("FASTAPI_ENV", raising=False)
    monkeypatch.delenv("FASTAPI_ROUTE_DEV", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    if source == "cache":
        with pytest.raises(FastAPIRouteError, match="fastapi-route build"):
            fastapi_route.include(FastAPI(), orders, prefix="/v2")
    else:
        app = FastAPI()
        fastapi_route.include(app, orders, prefix="/v2")
        with TestClient(app) as client:
            assert client.get("/v2/items/new").json() == {"static": True}
        with pytest.raises(FastAPIRouteError, match="fastapi-route build"):
            fastapi_route.include(FastAPI(), orders, prefix="/v2", source="cache")


def test_an_installed_apps_tree_by_its_name(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path / "site" / "billing_app", {
        "__init__.py": "",
        "routes/invoices/route.py": "def GET(request):\n    return ['inv']\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    app = FastAPI()
    tree = fastapi_route.include(app, app_name="billing_app", prefix="/billing", source="scan")
    assert tree.project.package == "billing_app"
    with TestClient(app) as client:
        assert client.get("/billing/invoices").json() == ["inv"]
    with pytest.raises(ProjectNotFound, match="no installed package named 'nope'") as caught:
        fastapi_route.include(app, app_name="nope")
    assert "include(app" in caught.value.hint


def test_a_tree_without_a_prefix_and_its_root_route(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "t", {
        "routes/route.py": "def GET(request):\n    return 'root'\n",
        "routes/[[...rest]]/route.py": "def POST(request, rest: list[str]):\n    return rest\n",
    })
    app = FastAPI()
    fastapi_route.include(app, root, source="scan")
    other = FastAPI()
    fastapi_route.include(other, root, prefix="/api", source="scan")
    with TestClient(app) as client, TestClient(other) as prefixed:
        assert client.get("/").json() == "root"
        assert client.post("/a/b").json() == ["a", "b"]
        # Below a prefix, the root route is the prefix's own URL, as a folder's URL is.
        assert prefixed.get("/api").json() == "root"
        assert prefixed.post("/api").json() == []
        assert prefixed.post("/api/a/b").json() == ["a", "b"]


def test_a_method_and_path_the_app_already_answers_is_an_error_naming_both(
    orders: Path
) -> None:
    app = FastAPI()

    @app.get("/v2/items/{anything}")  # the shape of [slug]: the same requests
    def mine(anything: str) -> str:
        return anything

    with pytest.raises(RouteConflict) as caught:
        fastapi_route.include(app, orders, prefix="/v2", source="scan")
    message = str(caught.value)
    assert message.startswith("ROUTE_CONFLICT")
    assert "GET /v2/items/{slug}" in message
    assert "routes/items/[slug]/route.py:1 (this tree)" in message
    assert "test_include.py" in message and "mine (the app's own route)" in message
    assert "another prefix" in caught.value.hint
    # Nothing was added: the app is as it was.
    assert [getattr(r, "path", None) for r in app.router.routes][-1] == "/v2/items/{anything}"
    assert trees_of(app) == []


def test_routes_of_an_included_router_are_the_apps_own(orders: Path) -> None:
    app = FastAPI()
    router = APIRouter()

    @router.post("/items")
    def create() -> str:
        return "router"

    app.include_router(router, prefix="/v2")
    with pytest.raises(RouteConflict, match=r"POST /v2/items: .*create \(the app's own route\)"):
        fastapi_route.include(app, orders, prefix="/v2", source="scan")


def test_two_trees_answering_the_same_requests_and_a_route_added_later(
    orders: Path, tmp_path: Path
) -> None:
    app = FastAPI()
    fastapi_route.include(app, orders, prefix="/a", source="scan")
    fastapi_route.include(app, orders, prefix="/b", source="scan")  # two prefixes: fine
    with pytest.raises(RouteConflict, match=r"\(the tree at /b\)"):
        fastapi_route.include(app, orders, prefix="/b", source="scan")

    @app.get("/a/items/new")  # added after the include: found when the app starts
    def late() -> str:
        return "late"

    clash = r"GET /a/items/new: .* late \(the app's own route\)"
    with pytest.raises(RouteConflict, match=clash), TestClient(app):
        pass


def test_websockets_and_http_on_one_path_are_not_a_clash(orders: Path) -> None:
    app = FastAPI()

    @app.get("/v2/live")
    def page() -> str:
        return "page"

    fastapi_route.include(app, orders, prefix="/v2", source="scan")
    with TestClient(app) as client:
        assert client.get("/v2/live").json() == "page"
        with client.websocket_connect("/v2/live") as ws:
            assert ws.receive_text() == "live"


@pytest.mark.parametrize("prefix", ["v2", "/v2/", "/{tenant}", "/a//b"])
def test_a_prefix_is_static_url_text(orders: Path, prefix: str) -> None:
    with pytest.raises(FastAPIRouteError, match="is not a static URL path"):
        fastapi_route.include(FastAPI(), orders, prefix=prefix, source="scan")


def test_files_only_a_whole_app_uses_are_named_in_one_warning(
    orders: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_tree(orders, {
        "app.py": "def configure(app):\n    raise AssertionError('not run')\n",
        "not-found.py": "def GET(request):\n    return 'nf'\n",
        "public/robots.txt": "x",
    })
    app = FastAPI()
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        fastapi_route.include(app, orders, prefix="/v2", source="scan")
    warned = [r.getMessage() for r in caplog.records if "does not use" in r.getMessage()]
    assert len(warned) == 1
    assert "app.py, not-found.py, public/" in warned[0]
    with TestClient(app) as client:
        assert client.get("/v2/robots.txt").status_code == 404
        assert client.get("/v2/items/new").status_code == 200


def test_a_host_that_replaces_its_openapi_after_include_still_documents_the_tree(
    orders: Path
) -> None:
    app = FastAPI()
    fastapi_route.include(app, orders, prefix="/v2", source="scan", schedule="lazy")
    described = app.openapi

    def custom() -> dict[str, Any]:  # FastAPI's "Extending OpenAPI", after the include
        document = described()
        document["info"]["x-logo"] = "logo.png"
        return document

    app.openapi = custom  # type: ignore[method-assign]
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
    assert document["info"]["x-logo"] == "logo.png"
    assert "/v2/items/{item_id}" in document["paths"]


def test_explain_sees_the_included_trees_and_the_apps_own_routes(orders: Path,
                                                                 tmp_path: Path) -> None:
    from fastapi_route.explain import explain_app

    other = write_tree(tmp_path / "billing", {"routes/invoices/[n=int]/route.py": """
        def GET(request, n: int):
            return n
    """})
    app = host_app()
    fastapi_route.include(app, orders, prefix="/v2", source="scan", schedule="lazy")
    fastapi_route.include(app, other, prefix="/billing", source="scan", schedule="lazy")
    found = explain_app(app, "GET", "/v2/items/7")
    assert found.outcome == "route" and found.route is not None
    assert (found.route.path, found.route.file) == ("/v2/items/{item_id:int}",
                                                   "routes/items/[item_id=int]/route.py")
    assert [loser.route.path for loser in found.losers] == ["/v2/items/{slug}"]
    assert [layer.origin for layer in found.middleware][-1] == "middleware.py"
    invoice = explain_app(app, "GET", "/billing/invoices/3")
    assert invoice.route is not None and invoice.route.file == "routes/invoices/[n=int]/route.py"
    assert "middleware.py" not in [layer.origin for layer in invoice.middleware]
    legacy = explain_app(app, "GET", "/v1/items")
    assert legacy.outcome == "app_route"
    assert explain_app(app, "DELETE", "/v2/items").status == 405
    assert explain_app(app, "GET", "/v2/nowhere").status == 404


def test_an_app_route_before_the_tree_that_takes_its_urls_is_a_conflict(orders: Path) -> None:
    """A broader route of the app's, or a mount at the prefix, would answer the tree's URLs
    first: as silent a winner as a route with the same path."""
    app = FastAPI()

    @app.get("/v2/{name}")
    def page(name: str) -> str:
        return name

    with pytest.raises(RouteConflict) as caught:
        fastapi_route.include(app, orders, prefix="/v2", source="scan")
    assert "GET /v2/admin: tests/test_include.py:" in str(caught.value)
    assert "page (the app's own route) comes first and answers it" in str(caught.value)
    mounted = FastAPI()
    mounted.mount("/v2", FastAPI())
    with pytest.raises(RouteConflict, match="the app's mount at /v2 comes first"):
        fastapi_route.include(mounted, orders, prefix="/v2", source="scan")
    elsewhere = FastAPI()
    elsewhere.mount("/static", FastAPI())
    fastapi_route.include(elsewhere, orders, prefix="/v2", source="scan")  # no clash


def test_an_app_route_after_the_tree_whose_urls_the_tree_takes_stops_the_start(
    orders: Path
) -> None:
    app = FastAPI()
    fastapi_route.include(app, orders, prefix="/v2", source="scan")

    @app.get("/v2/items/special")  # [slug] comes first and answers it
    def special() -> str:
        return "special"

    taken = (r"routes/items/\[slug\]/route.py:1 \(this tree\) comes first and answers it, "
             r"not .*special")
    with pytest.raises(RouteConflict, match=taken), TestClient(app):
        pass


def test_config_fastapi_dependencies_apply_to_the_trees_routes_and_the_rest_is_named(
    orders: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_tree(orders, {
        "config.py": """
            from fastapi import Depends, Header, HTTPException

            def key(x_key: str = Header("")):
                if x_key != "k":
                    raise HTTPException(401, "no key")

            cors_enabled = True
            fastapi = {"dependencies": [Depends(key)], "responses": {418: {"description": "tea"}},
                       "openapi_tags": [{"name": "items"}]}
        """,
    })
    app = host_app()
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        fastapi_route.include(app, orders, prefix="/v2", source="scan")
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "config.py's cors_enabled, config.py's fastapi['openapi_tags']" in warned
    assert "'dependencies'" not in warned
    with TestClient(app) as client:
        assert client.get("/v2/items/new").status_code == 401
        assert client.get("/v2/items/new", headers={"x-key": "k"}).json() == {"static": True}
        assert client.get("/v1/items").status_code == 200  # the app's own: not the tree's key
        document = client.get("/openapi.json").json()
    assert "418" in document["paths"]["/v2/items/new"]["get"]["responses"]
    assert "418" not in document["paths"]["/v1/items"]["get"]["responses"]


@pytest.mark.parametrize(("call", "message"), [
    (lambda root: fastapi_route.include(APIRouter(), root), "APIRouter is not a FastAPI app"),
    (lambda root: fastapi_route.include(FastAPI(), root, source="scann"),
     "source='scann' is not a source"),
    (lambda root: fastapi_route.include(FastAPI(), root, schedule="fast"),
     "schedule='fast' is not a schedule"),
    (lambda root: fastapi_route.include(FastAPI(), root, prefix=None),
     "prefix None is not a static URL path"),
    (lambda root: fastapi_route.include(FastAPI(), root, prefix="/v2?x"),
     "is not a static URL path"),
])
def test_a_call_include_cannot_serve_is_a_message(orders: Path, call: Any,
                                                  message: str) -> None:
    with pytest.raises(FastAPIRouteError, match=re.escape(message)):
        call(orders)


def test_without_a_build_the_hint_names_the_project(orders: Path) -> None:
    with pytest.raises(FastAPIRouteError) as caught:
        fastapi_route.include(FastAPI(), orders, source="cache")
    assert f"fastapi-route build --project {orders}" in caught.value.hint
    assert 'source="scan"' in caught.value.hint


def test_the_apps_routes_that_match_their_own_way_still_do(orders: Path) -> None:
    """The trie indexes a route by its template only where the template says all: an app's
    route class with a case-insensitive regex, or its own `matches`, is tried for every path."""

    class AnyCase(APIRoute):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.path_regex = re.compile(self.path_regex.pattern, re.IGNORECASE)

    class Tenanted(APIRoute):
        def matches(self, scope: Any) -> Any:
            scope = {**scope, "path": scope["path"].removeprefix("/acme")}
            return super().matches(scope)

    app = FastAPI()
    app.router.route_class = AnyCase

    @app.get("/legacy/items")
    def legacy() -> str:
        return "legacy"

    app.router.route_class = Tenanted

    @app.get("/tenant/items")
    def tenant() -> str:
        return "tenant"

    fastapi_route.include(app, orders, prefix="/v2", source="scan")
    with TestClient(app) as client:
        assert client.get("/LEGACY/Items").json() == "legacy"
        assert client.get("/acme/tenant/items").json() == "tenant"
        assert client.get("/v2/items/new").json() == {"static": True}
