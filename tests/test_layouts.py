"""SPEC 9, `_layout.py`: what a folder says about every route below it, on real trees.

Each behaviour is checked in eager and lazy mode (and, where the cache's record of layouts
matters, from a built cache): dependencies compose outer -> inner -> route (the order of 422
errors shows it), tags, responses, deprecated and include_in_schema fold as `include_router`
folds an APIRouter's, a layout's middleware runs for the routes below its folder only, inside
middleware.py's, and `/docs`, `/openapi.json`, `public/` files and the 404 page are untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import app_in_mode, write_tree
from fastapi import FastAPI
from fastapi.testclient import TestClient
from limits import time_limit
from starlette.websockets import WebSocketDisconnect

from fastapi_route.errors import FastAPIRouteError

MODES = ["eager", "lazy", "cache"]  # scan + import all; scan + import on use; built cache




def client_for(root: Path, mode: str) -> TestClient:
    return TestClient(app_in_mode(root, mode))


def operation(spec: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    return spec["paths"][path][method]  # type: ignore[no-any-return]


# --- dependencies: outer -> inner -> route -----------------------------------------------------

DEPENDENCY_ORDER = {
    "deps.py": """
        from fastapi import Header, Query


        def outer(x_outer: str = Header()):
            return x_outer


        def inner(inner: str = Query()):
            return inner


        def own(x_own: str = Header()):
            return x_own
    """,
    "routes/_layout.py": """
        from fastapi import Depends

        from ..deps import outer

        dependencies = [Depends(outer)]
    """,
    "routes/shop/_layout.py": """
        from fastapi import Depends

        from ...deps import inner

        dependencies = [Depends(inner)]
    """,
    "routes/shop/items/route.py": """
        from fastapi import Depends

        from fastapi_route import route

        from ....deps import own


        @route(dependencies=[Depends(own)])
        def GET(request, limit: int):
            return {"limit": limit}
    """,
}


@pytest.mark.parametrize("mode", MODES)
def test_dependencies_compose_outer_inner_route_in_the_order_of_422_errors(tmp_path, mode):
    client = client_for(write_tree(tmp_path / "app", DEPENDENCY_ORDER), mode)
    response = client.get("/shop/items")
    assert response.status_code == 422
    locations = [tuple(error["loc"]) for error in response.json()["detail"]]
    # outer layout, inner layout, @route's own dependency, then the handler's own parameter
    assert locations == [("header", "x-outer"), ("query", "inner"), ("header", "x-own"),
                         ("query", "limit")]
    ok = client.get("/shop/items?inner=i&limit=3", headers={"x-outer": "o", "x-own": "w"})
    assert (ok.status_code, ok.json()) == (200, {"limit": 3})
    # Only the outer layout's dependency is missing: exactly one error.
    one = client.get("/shop/items?inner=i&limit=3", headers={"x-own": "w"})
    assert [tuple(e["loc"]) for e in one.json()["detail"]] == [("header", "x-outer")]


def test_dependency_order_is_fastapis_app_router_route_order(tmp_path):
    """The same three dependencies in a plain FastAPI app (app -> router -> route) give the
    same 422 detail as the file tree."""
    from fastapi import APIRouter, Depends, Header, Query

    def outer(x_outer: str = Header()) -> str:
        return x_outer

    def inner(inner: str = Query()) -> str:
        return inner

    def own(x_own: str = Header()) -> str:
        return x_own

    plain = FastAPI(dependencies=[Depends(outer)])
    router = APIRouter(prefix="/shop", dependencies=[Depends(inner)])

    @router.get("/items", dependencies=[Depends(own)])
    def items(limit: int) -> dict[str, int]:
        return {"limit": limit}

    plain.include_router(router)
    want = TestClient(plain).get("/shop/items")
    got = client_for(write_tree(tmp_path / "app", DEPENDENCY_ORDER), "eager").get("/shop/items")
    assert got.status_code == want.status_code == 422
    assert [e["loc"] for e in got.json()["detail"]] == [e["loc"] for e in want.json()["detail"]]


GUARDED = {
    "routes/_layout.py": """
        from fastapi import Depends, Header, HTTPException


        def _token(x_token: str | None = Header(None)):
            if x_token != "secret":
                raise HTTPException(status_code=401, detail="no token")


        dependencies = [Depends(_token)]
    """,
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/users/[user_id]/route.py": """
        def GET(request, user_id: int):
            return {"user_id": user_id}

        def POST(request, user_id: int):
            return {"posted": user_id}, 201
    """,
    "routes/(grp)/deep/route.py": """
        async def GET(request):
            return {"deep": True}
    """,
    "public/hello.txt": "hello from public\n",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("custom_404", [False, True], ids=["default", "not-found+docs.py"])
def test_a_root_layout_guards_every_route_and_nothing_else(tmp_path, mode, custom_404):
    files = dict(GUARDED)
    if custom_404:
        files["not-found.py"] = """
            def handler(request, context):
                return {"custom": "missing"}
        """
        files["docs.py"] = """
            def handler(request, context):
                return "<h1>our docs</h1>"
        """
    client = client_for(write_tree(tmp_path / "app", files), mode)
    token = {"x-token": "secret"}
    for method, url in [("GET", "/"), ("GET", "/users/1"), ("POST", "/users/1"),
                        ("GET", "/deep"), ("HEAD", "/users/1")]:
        refused = client.request(method, url)
        assert refused.status_code == 401, (method, url, refused.text)
        if method != "HEAD":
            assert refused.json() == {"detail": "no token"}
        allowed = client.request(method, url, headers=token)
        assert allowed.status_code in (200, 201), (method, url, allowed.text)
    # Untouched: the docs, the schema, public/ files and the 404 page.
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert ("our docs" in docs.text) == custom_404
    assert client.get("/openapi.json").status_code == 200
    static = client.get("/hello.txt")
    assert (static.status_code, static.text) == (200, "hello from public\n")
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json() == ({"custom": "missing"} if custom_404 else {"detail": "Not Found"})


# --- tags, responses, deprecated, include_in_schema -------------------------------------------

SCHEMA_TREE = {
    "routes/_layout.py": """
        tags = ["api"]
        responses = {404: {"description": "root 404"}, 500: {"description": "root 500"}}
    """,
    "routes/users/_layout.py": """
        tags = ["users", "api"]
        responses = {404: {"description": "users 404"}, 409: {"description": "users 409"}}
        deprecated = True
    """,
    "routes/users/route.py": """
        from fastapi_route import route


        @route(tags=["admin", "users"], responses={409: {"description": "own 409"}})
        def GET(request):
            return []

        def POST(request):
            return {}

        @route(deprecated=False)
        def PUT(request):
            return {}
    """,
    "routes/users/current/_layout.py": """
        deprecated = False
    """,
    "routes/users/current/route.py": """
        def GET(request):
            return {}
    """,
    "routes/users/current/old/_layout.py": """
        deprecated = True
    """,
    "routes/users/current/old/route.py": """
        def GET(request):
            return {}
    """,
    "routes/plain/route.py": """
        def GET(request):
            return {}
    """,
    "routes/hidden/_layout.py": """
        include_in_schema = False
    """,
    "routes/hidden/route.py": """
        def GET(request):
            return {"hidden": "but served"}
    """,
    "routes/hidden/again/_layout.py": """
        include_in_schema = True
    """,
    "routes/hidden/again/route.py": """
        def GET(request):
            return {"still": "hidden"}
    """,
}


@pytest.fixture(params=MODES)
def schema(request, tmp_path) -> tuple[TestClient, dict[str, Any]]:
    client = client_for(write_tree(tmp_path / "app", SCHEMA_TREE), request.param)
    return client, client.get("/openapi.json").json()


def test_tags_concatenate_without_repeats_the_routes_own_last(schema):
    _, spec = schema
    assert operation(spec, "/users")["tags"] == ["api", "users", "admin"]
    assert operation(spec, "/users", "post")["tags"] == ["api", "users"]
    assert operation(spec, "/plain")["tags"] == ["api"]


def test_responses_merge_inner_wins_per_status_route_wins_last(schema):
    _, spec = schema
    responses = operation(spec, "/users")["responses"]
    assert responses["404"]["description"] == "users 404"
    assert responses["500"]["description"] == "root 500"
    assert responses["409"]["description"] == "own 409"
    post = operation(spec, "/users", "post")["responses"]
    assert post["409"]["description"] == "users 409"
    plain = operation(spec, "/plain")["responses"]
    assert plain["404"]["description"] == "root 404"
    assert "409" not in plain


def test_deprecated_innermost_wins_and_route_wins_over_layouts(schema):
    _, spec = schema
    assert operation(spec, "/users")["deprecated"] is True
    assert operation(spec, "/users", "post")["deprecated"] is True
    assert operation(spec, "/users", "put").get("deprecated", False) is False  # @route wins
    assert operation(spec, "/users/current").get("deprecated", False) is False  # inner False
    assert operation(spec, "/users/current/old")["deprecated"] is True  # innermost True
    assert operation(spec, "/plain").get("deprecated", False) is False


def test_include_in_schema_false_anywhere_above_hides_the_route(schema):
    client, spec = schema
    assert "/hidden" not in spec["paths"]
    assert "/hidden/again" not in spec["paths"]  # an inner True does not undo it
    assert "/plain" in spec["paths"]
    # Hidden from the schema, still served.
    assert client.get("/hidden").json() == {"hidden": "but served"}
    assert client.get("/hidden/again").json() == {"still": "hidden"}


# --- middleware --------------------------------------------------------------------------------


def _layout_middleware(name: str) -> str:
    return f"""
        async def middleware(request, call_next):
            trail = request.scope.setdefault("trail", [])
            trail.append("{name}")
            response = await call_next(request)
            response.headers.append("x-after", "{name}")
            response.headers.append("x-seen-{name}", str(response.status_code))
            return response
    """


MIDDLEWARE_TREE = {
    "app.py": """
        from fastapi.responses import JSONResponse


        class Handled(Exception):
            pass


        async def _handled(request, exc):
            return JSONResponse({"handled": True}, status_code=409)


        exception_handlers = {Handled: _handled}
    """,
    "middleware.py": _layout_middleware("project"),
    "routes/_layout.py": _layout_middleware("root"),
    "routes/shop/_layout.py": _layout_middleware("shop"),
    "routes/shop/route.py": """
        def GET(request):
            return {"trail": request.scope["trail"]}
    """,
    "routes/shop/[item]/route.py": """
        from fastapi import HTTPException

        from ....app import Handled


        async def GET(request, item: str):
            if item == "teapot":
                raise HTTPException(status_code=418, detail="short and stout")
            if item == "handled":
                raise Handled()
            return {"trail": request.scope["trail"], "item": item}
    """,
    "routes/other/route.py": """
        def GET(request):
            return {"trail": request.scope["trail"]}
    """,
    "public/file.txt": "static\n",
}


@pytest.fixture(params=MODES)
def middleware_client(request, tmp_path) -> TestClient:
    return client_for(write_tree(tmp_path / "app", MIDDLEWARE_TREE), request.param)


def test_layout_middleware_nests_outer_around_inner_inside_middleware_py(middleware_client):
    response = middleware_client.get("/shop")
    assert response.status_code == 200
    assert response.json() == {"trail": ["project", "root", "shop"]}
    assert response.headers.get_list("x-after") == ["shop", "root", "project"]
    item = middleware_client.get("/shop/box")
    assert item.json() == {"trail": ["project", "root", "shop"], "item": "box"}


def test_layout_middleware_runs_only_below_its_folder(middleware_client):
    response = middleware_client.get("/other")
    assert response.json() == {"trail": ["project", "root"]}
    assert response.headers.get_list("x-after") == ["root", "project"]
    # Not for what no route serves: a public/ file, the 404 page, the docs.
    for url in ("/file.txt", "/nowhere", "/openapi.json", "/docs"):
        answered = middleware_client.get(url)
        assert answered.headers.get_list("x-after") == ["project"], url


def test_layout_middleware_sees_an_http_exception_as_a_response(middleware_client):
    response = middleware_client.get("/shop/teapot")
    assert response.status_code == 418
    assert response.json() == {"detail": "short and stout"}
    assert response.headers["x-seen-shop"] == "418"
    assert response.headers["x-seen-root"] == "418"
    assert response.headers.get_list("x-after") == ["shop", "root", "project"]


def test_a_handled_exception_passes_through_app_py_handlers(middleware_client):
    response = middleware_client.get("/shop/handled")
    assert (response.status_code, response.json()) == (409, {"handled": True})
    assert response.headers["x-seen-shop"] == "409"
    assert response.headers.get_list("x-after") == ["shop", "root", "project"]


def test_a_validation_error_reaches_the_layout_middleware_as_422(tmp_path):
    files = {
        "routes/_layout.py": _layout_middleware("root"),
        "routes/n/route.py": "def GET(request, n: int):\n    return {'n': n}\n",
    }
    for mode in ("eager", "lazy"):
        client = client_for(write_tree(tmp_path / mode, files), mode)
        response = client.get("/n?n=abc")
        assert response.status_code == 422
        assert response.headers["x-seen-root"] == "422"


# --- groups -----------------------------------------------------------------------------------

GROUP_TREE = {
    "routes/(admin)/_layout.py": """
        from fastapi import Depends, Header, HTTPException


        def _admin(x_admin: str | None = Header(None)):
            if x_admin != "yes":
                raise HTTPException(status_code=403, detail="admins only")


        dependencies = [Depends(_admin)]
        tags = ["admin"]


        async def middleware(request, call_next):
            response = await call_next(request)
            response.headers["x-admin-area"] = "1"
            return response
    """,
    "routes/(admin)/dashboard/route.py": """
        def GET(request):
            return {"dashboard": True}
    """,
    "routes/(admin)/users/[user_id]/route.py": """
        def DELETE(request, user_id: int):
            return None
    """,
    "routes/dashboard2/route.py": """
        def GET(request):
            return {"outside": True}
    """,
    "routes/(public)/about/route.py": """
        def GET(request):
            return {"about": True}
    """,
}


@pytest.mark.parametrize("mode", MODES)
def test_a_group_layout_applies_inside_the_group_only(tmp_path, mode):
    client = client_for(write_tree(tmp_path / "app", GROUP_TREE), mode)
    admin = {"x-admin": "yes"}
    assert client.get("/dashboard").status_code == 403
    inside = client.get("/dashboard", headers=admin)
    assert inside.json() == {"dashboard": True}
    assert inside.headers["x-admin-area"] == "1"
    assert client.delete("/users/3").status_code == 403
    assert client.delete("/users/3", headers=admin).status_code == 204
    # Siblings outside the group, and in another group: untouched.
    for url, body in (("/dashboard2", {"outside": True}), ("/about", {"about": True})):
        outside = client.get(url)
        assert (outside.status_code, outside.json()) == (200, body)
        assert "x-admin-area" not in outside.headers
    # The group is not a URL segment.
    assert client.get("/(admin)/dashboard", headers=admin).status_code == 404
    assert client.get("/admin/dashboard", headers=admin).status_code == 404
    spec = client.get("/openapi.json").json()
    assert operation(spec, "/dashboard")["tags"] == ["admin"]
    assert "tags" not in operation(spec, "/about")


# --- websockets -------------------------------------------------------------------------------

WS_TREE = {
    "routes/(vault)/_layout.py": """
        from fastapi import Depends, WebSocketException, status


        def _key(key: str | None = None):
            if key != "sesame":
                raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="no key")


        dependencies = [Depends(_key)]
    """,
    "routes/(vault)/vault/route.py": """
        async def WEBSOCKET(websocket):
            await websocket.accept()
            await websocket.send_text("inside")
            await websocket.close()
    """,
    "routes/lobby/route.py": """
        async def WEBSOCKET(websocket):
            await websocket.accept()
            await websocket.send_text("lobby")
            await websocket.close()
    """,
}


@pytest.mark.parametrize("mode", MODES)
def test_layout_dependencies_guard_websockets(tmp_path, mode):
    client = client_for(write_tree(tmp_path / "app", WS_TREE), mode)
    with time_limit(10):
        with client.websocket_connect("/vault?key=sesame") as websocket:
            assert websocket.receive_text() == "inside"
        for url in ("/vault", "/vault?key=wrong"):
            with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url):
                pass
            assert (refused.value.code, refused.value.reason) == (1008, "no key")
        with client.websocket_connect("/lobby") as websocket:  # outside the group
            assert websocket.receive_text() == "lobby"


# --- a wrong value at run time ------------------------------------------------------------------

# Calls, not literals: a literal of the wrong shape is the build's to refuse
# (tests/test_setting_values.py); these only the import shows.
BAD_VALUES = {
    "tags": 'tags = str("users")',
    "dependencies": "dependencies = int(3)",
    "responses": 'responses = list(["nope"])',
    "deprecated": 'deprecated = str("yes")',
    "include_in_schema": "include_in_schema = int(0)",
}


@pytest.mark.parametrize("mode", ["eager", "cache"])
@pytest.mark.parametrize("name", BAD_VALUES)
def test_a_layout_with_a_wrong_value_stops_create_app_naming_the_file(tmp_path, mode, name):
    root = write_tree(tmp_path / "app", {
        "routes/index.py": "def GET(request):\n    return {}\n",
        "routes/users/_layout.py": BAD_VALUES[name] + "\n",
        "routes/users/route.py": "def GET(request):\n    return []\n",
    })
    with pytest.raises(FastAPIRouteError) as info:
        app_in_mode(root, mode)
    message = str(info.value)
    assert "routes/users/_layout.py" in message
    assert name in message


def test_a_layout_with_a_wrong_value_fails_its_routes_only_in_lazy_mode(tmp_path):
    """Lazy mode imports nothing at start: the routes below the broken layout answer 500 (and
    log the file), every other route keeps working (README, "Lazy start")."""
    root = write_tree(tmp_path / "app", {
        "routes/index.py": "def GET(request):\n    return {'ok': True}\n",
        "routes/users/_layout.py": 'tags = str("users")\n',  # a call: the build cannot see it
        "routes/users/route.py": "def GET(request):\n    return []\n",
    })
    client = TestClient(app_in_mode(root, "lazy"), raise_server_exceptions=False)
    assert client.get("/users").status_code == 500
    assert client.get("/").json() == {"ok": True}


# --- layouts in any folder, and the route table ------------------------------------------------

ANY_FOLDER_TREE = {
    "checks.py": """
        from fastapi import HTTPException


        def known_item(item: str):
            if item == "missing":
                raise HTTPException(status_code=404, detail=f"no item {item}")
    """,
    "routes/my-api/v1.0/_layout.py": """
        from fastapi import Depends

        from ....checks import known_item

        tags = ["v1"]
        dependencies = [Depends(known_item)]
    """,
    "routes/my-api/v1.0/[item]/_layout.py": """
        tags = ["item"]


        async def middleware(request, call_next):
            response = await call_next(request)
            response.headers["x-item"] = request.path_params.get("item", "?")
            return response
    """,
    "routes/my-api/v1.0/[item]/route.py": """
        def GET(request, item: str):
            return {"item": item}
    """,
    "routes/my-api/v1.0/[item]/[...rest]/_layout.py": """
        tags = ["rest"]
    """,
    "routes/my-api/v1.0/[item]/[...rest]/route.py": """
        def GET(request, item: str, rest: list[str]):
            return {"item": item, "rest": rest}
    """,
}


@pytest.mark.parametrize("mode", MODES)
def test_layouts_in_param_catch_all_and_non_identifier_folders(tmp_path, mode):
    client = client_for(write_tree(tmp_path / "app", ANY_FOLDER_TREE), mode)
    ok = client.get("/my-api/v1.0/pen")
    assert ok.json() == {"item": "pen"}
    assert ok.headers["x-item"] == "pen"
    # The layout's dependency reads the path parameter, as an APIRouter's can.
    missing = client.get("/my-api/v1.0/missing")
    assert (missing.status_code, missing.json()) == (404, {"detail": "no item missing"})
    assert missing.headers["x-item"] == "missing"
    deep = client.get("/my-api/v1.0/pen/a/b")
    assert deep.json() == {"item": "pen", "rest": ["a", "b"]}
    assert deep.headers["x-item"] == "pen"
    assert client.get("/my-api/v1.0/missing/a").status_code == 404
    spec = client.get("/openapi.json").json()
    assert operation(spec, "/my-api/v1.0/{item}")["tags"] == ["v1", "item"]
    assert operation(spec, "/my-api/v1.0/{item}/{rest}")["tags"] == ["v1", "item", "rest"]


def test_routes_shows_the_layouts_of_each_route(tmp_path):
    from click.testing import CliRunner

    from fastapi_route.cli import main

    root = write_tree(tmp_path / "app", {
        **GROUP_TREE,
        "routes/_layout.py": "tags = ['api']\n",
        "routes/(admin)/users/_layout.py": "tags = ['users']\n",
        "routes/(admin)/users/[user_id]/ws/route.py": """
            async def WEBSOCKET(websocket, user_id: int):
                await websocket.accept()
        """,
    })
    result = CliRunner().invoke(main, ["routes", "--project", str(root)])
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.output.splitlines()[1:-1]:
        method, url, _file, *layouts = line.split(maxsplit=3)
        rows[(method, url)] = layouts[0] if layouts else ""
    assert rows[("DELETE", "/users/{user_id}")] == "routes/, routes/(admin)/, routes/(admin)/users/"
    assert rows[("WS", "/users/{user_id}/ws")] == (
        "routes/, routes/(admin)/, routes/(admin)/users/"
    )
    assert rows[("GET", "/dashboard")] == "routes/, routes/(admin)/"
    assert rows[("GET", "/dashboard2")] == "routes/"
    assert rows[("GET", "/about")] == "routes/"


@pytest.mark.parametrize("mode", ["eager", "cache"])
def test_dependencies_that_are_not_depends_are_blamed_on_the_layout(tmp_path, mode):
    """`dependencies = [check]` (Depends forgotten) is the layout's mistake: the error names
    the layout, as for any other wrong layout value, not the route file below it."""
    root = write_tree(tmp_path / "app", {
        "routes/users/_layout.py": """
            def check():
                return True

            dependencies = [check]
        """,
        "routes/users/route.py": "def GET(request):\n    return []\n",
    })
    with pytest.raises(FastAPIRouteError) as info:
        app_in_mode(root, mode)
    assert "routes/users/_layout.py" in str(info.value)
