"""Routes are registered by identity, not by list position (issue 16, part 3).

The router's own `add_api_route` makes each route (so its defaults apply); the made route is
then found by its endpoint, taken out of the router's list and put in its LazyRoute's place.
Where a router puts a new route is its own business: one that inserts at the front, one that
holds an included router (FastAPI >= 0.137 keeps `_IncludedRouter` nodes in `router.routes`;
0.110 copies the routes) and a layout's middleware (kept beside FastAPI's `app`, never
replacing it) are served as with a plain router, on the oldest and the newest FastAPI.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tree
from fastapi.routing import APIRoute, APIRouter
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware

from fastapi_route.errors import FastAPIRouteError
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app, runtime_of
from fastapi_route.runtime.ondemand import LazyRoute
from fastapi_route.runtime.register import FileAPIRoute

SCHEDULES = ("eager", "warm", "lazy")

TREE = {
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/users/[user_id]/route.py": """
        def GET(request, user_id: int):
            return {"user": user_id}

        def POST(request, user_id: int):
            return {"created": user_id}
    """,
    "routes/shop/_layout.py": """
        async def middleware(request, call_next):
            response = await call_next(request)
            response.headers["x-layout"] = "shop"
            return response
    """,
    "routes/shop/items/route.py": """
        def GET(request):
            return {"items": []}
    """,
}

# app.py's configure includes a router of its own, as a service adopting fastapi-route would.
LEGACY = """
    from fastapi import APIRouter

    legacy = APIRouter()


    @legacy.get("/old/{item_id}")
    def old(item_id: int):
        return {"old": item_id}


    def configure(app):
        app.include_router(legacy, prefix="/v0")
"""


@pytest.fixture(autouse=True)
def _not_under_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASTAPI_ROUTE_SUPERVISOR", raising=False)


def app_of(root: Path, schedule: str = "lazy", **options: Any) -> Any:
    return create_app(Project(root), source="scan", schedule=schedule,  # type: ignore[arg-type]
                      **options)


def made_routes(app: Any) -> list[FileAPIRoute]:
    return [r for r in app.router.routes if isinstance(r, FileAPIRoute)]


class InsertingFirst(APIRouter):
    """A router that puts each new API route at the front of its list, not at the end."""

    def add_api_route(self, *args: Any, **kwargs: Any) -> None:
        super().add_api_route(*args, **kwargs)
        self.routes.insert(0, self.routes.pop())


class Forgetting(APIRouter):
    """A router whose add_api_route makes a route and keeps it nowhere."""

    def add_api_route(self, *args: Any, **kwargs: Any) -> None:
        super().add_api_route(*args, **kwargs)
        self.routes.pop()


@pytest.mark.parametrize("dispatch", [True, False])
def test_a_router_that_inserts_at_the_front_is_served_in_the_tables_order(
    tmp_path: Path, dispatch: bool
) -> None:
    app = app_of(write_tree(tmp_path / "app", TREE), dispatch=dispatch)
    before = list(app.router.routes)
    app.router.__class__ = InsertingFirst  # from here on, every made route lands first
    client = TestClient(app)
    assert client.get("/users/7").json() == {"user": 7}
    assert client.post("/users/8").json() == {"created": 8}
    assert client.get("/").json() == {"page": "home"}
    after = app.router.routes
    # Each real route took its LazyRoute's place; nothing was left at the front.
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        if isinstance(old, LazyRoute) and old.real is not None:
            assert new is old.real
        else:
            assert new is old
    assert {r.path for r in made_routes(app)} == {"/users/{user_id}", "/"}


def test_a_router_that_keeps_no_made_route_is_an_error_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_of(write_tree(tmp_path / "app", TREE))
    app.router.__class__ = Forgetting
    with caplog.at_level(logging.ERROR, "fastapi_route"):
        response = TestClient(app).get("/users/7")
    assert response.status_code == 500  # lazy: the route cannot be served, the rest can
    lazy = next(r for r in runtime_of(app).file_routes.lazy if r.record.method == "GET"
                and r.path.startswith("/users"))
    assert isinstance(lazy.error, FastAPIRouteError)
    assert "route.py" in str(lazy.error) and "Forgetting" in str(lazy.error)
    assert "did not add the route it made" in caplog.text


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("dispatch", [True, False])
def test_a_router_included_by_configure_is_served_beside_the_file_routes(
    tmp_path: Path, schedule: str, dispatch: bool
) -> None:
    root = write_tree(tmp_path / "app", {**TREE, "app.py": LEGACY})
    app = app_of(root, schedule, dispatch=dispatch)
    with TestClient(app) as client:
        # In either order: the included router first, then file routes made real after it
        # was included (in FastAPI >= 0.137 its node is last in the list while they are made).
        assert client.get("/v0/old/3").json() == {"old": 3}
        assert client.get("/users/4").json() == {"user": 4}
        assert client.get("/v0/old/5").json() == {"old": 5}
        assert client.get("/v0/old/x").status_code == 422
        assert client.post("/v0/old/3").status_code == 405
        assert client.get("/v0/nothing").status_code == 404
        assert client.get("/shop/items").headers["x-layout"] == "shop"
        paths = client.get("/openapi.json").json()["paths"]
    assert {"/v0/old/{item_id}", "/users/{user_id}", "/shop/items", "/"} <= set(paths)
    # Every file route sits where its LazyRoute stood: before whatever configure added.
    routes = app.router.routes
    ours = [i for i, r in enumerate(routes) if isinstance(r, (FileAPIRoute, LazyRoute))]
    assert ours == list(range(ours[0], ours[0] + len(ours)))
    assert not any(isinstance(r, FileAPIRoute) for r in routes[ours[-1] + 1:])


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_layouts_middleware_wraps_the_route_without_replacing_its_app(
    tmp_path: Path, schedule: str
) -> None:
    app = app_of(write_tree(tmp_path / "app", TREE), schedule)
    with TestClient(app) as client:
        assert client.get("/shop/items").headers["x-layout"] == "shop"
        assert "x-layout" not in client.get("/").headers
        assert client.head("/shop/items").headers["x-layout"] == "shop"
    by_path = {r.path: r for r in made_routes(app)}
    shop, home = by_path["/shop/items"], by_path["/"]
    # FastAPI's app is left as FastAPI made it; the layout's middleware is around it.
    assert not isinstance(shop.app, BaseHTTPMiddleware)
    assert isinstance(shop.served, BaseHTTPMiddleware) and shop.served.app is shop.app
    assert home.served is home.app
    assert type(shop).__mro__[1] is APIRoute
