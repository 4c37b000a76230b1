"""SPEC 9, `app.py`: what one would pass to `FastAPI(...)`, on real trees.

`lifespan` runs at start and stop, `exception_handlers` answer for an exception class and a
status code, `middleware` is outermost (first is outermost, all outside middleware.py's
function and the layouts'), `configure(app)` runs once after every route is registered and
what it adds is served, and a route's `from ...app import x` is the very module the runtime
loaded. A wrong value stops create_app with a message naming app.py.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from conftest import app_in_mode, write_tree
from fastapi.testclient import TestClient

from fastapi_route.errors import FastAPIRouteError
from fastapi_route.runtime.app import create_app

MODES = ["eager", "lazy", "cache", "cache-lazy"]




def loaded(path: Path) -> types.ModuleType:
    """The one module in sys.modules loaded from `path`."""
    found = [m for m in list(sys.modules.values())
             if getattr(m, "__file__", None) and Path(m.__file__).resolve() == path.resolve()]
    assert len(found) == 1, f"{path} is loaded {len(found)} times"
    return found[0]


# --- lifespan and one module per file ---------------------------------------------------------

LIFESPAN_TREE = {
    "app.py": """
        from contextlib import asynccontextmanager

        events = []
        state = {}


        @asynccontextmanager
        async def lifespan(app):
            events.append("start")
            state["model"] = "loaded"
            yield
            state.clear()
            events.append("stop")
    """,
    "routes/index.py": """
        from ..app import events, state


        def GET(request):
            return {"state": dict(state), "events": list(events)}
    """,
    "routes/deep/[name]/route.py": """
        from ....app import state


        async def GET(request, name: str):
            return {"name": name, "model": state.get("model")}
    """,
}


@pytest.mark.parametrize("mode", MODES)
def test_lifespan_runs_at_start_and_stop(tmp_path, mode):
    root = write_tree(tmp_path / "app", LIFESPAN_TREE)
    app = app_in_mode(root, mode)
    app_module = loaded(root / "app.py")
    assert app_module.events == []  # nothing runs before the server starts
    with TestClient(app) as client:
        assert app_module.events == ["start"]
        home = client.get("/")
        assert home.json() == {"state": {"model": "loaded"}, "events": ["start"]}
        assert client.get("/deep/x").json() == {"name": "x", "model": "loaded"}
    assert app_module.events == ["start", "stop"]
    assert app_module.state == {}


@pytest.mark.parametrize("mode", MODES)
def test_a_routes_import_of_app_py_is_the_module_the_runtime_loaded(tmp_path, mode):
    root = write_tree(tmp_path / "app", LIFESPAN_TREE)
    app = app_in_mode(root, mode)
    with TestClient(app) as client:
        client.get("/")
        client.get("/deep/y")
    app_module = loaded(root / "app.py")
    index = loaded(root / "routes" / "index.py")
    deep = loaded(root / "routes" / "deep" / "[name]" / "route.py")
    assert index.state is app_module.state
    assert index.events is app_module.events
    assert deep.state is app_module.state
    # and it is the module sys.modules holds under the name a relative import gives it
    assert sys.modules[index.__name__.rsplit(".", 2)[0] + ".app"] is app_module


# --- exception handlers -----------------------------------------------------------------------

HANDLERS_TREE = {
    "errors.py": """
        class TeapotError(Exception):
            def __init__(self, flavour):
                self.flavour = flavour
    """,
    "app.py": """
        from fastapi.responses import JSONResponse

        from .errors import TeapotError


        async def _teapot(request, exc):
            return JSONResponse({"teapot": exc.flavour}, status_code=418)


        async def _not_found(request, exc):
            return JSONResponse({"custom_404": request.url.path}, status_code=404)


        async def _conflict(request, exc):
            return JSONResponse({"custom_409": exc.detail}, status_code=409)


        exception_handlers = {TeapotError: _teapot, 404: _not_found, 409: _conflict}
    """,
    "routes/tea/route.py": """
        from ...errors import TeapotError


        def GET(request):
            raise TeapotError("earl grey")
    """,
    "routes/items/[item_id]/route.py": """
        from fastapi_route import ConflictException, NotFoundException


        async def GET(request, item_id: int):
            if item_id == 0:
                raise NotFoundException("no item 0")
            return {"item_id": item_id}

        def PUT(request, item_id: int):
            raise ConflictException("taken")
    """,
}


@pytest.mark.parametrize("mode", MODES)
def test_exception_handlers_for_a_class_and_for_status_codes(tmp_path, mode):
    client = TestClient(app_in_mode(write_tree(tmp_path / "app", HANDLERS_TREE), mode))
    tea = client.get("/tea")
    assert (tea.status_code, tea.json()) == (418, {"teapot": "earl grey"})
    # A status code handler answers for the route's HTTPException and for an unmatched path.
    raised = client.get("/items/0")
    assert (raised.status_code, raised.json()) == (404, {"custom_404": "/items/0"})
    unmatched = client.get("/nowhere/at/all")
    assert (unmatched.status_code, unmatched.json()) == (404, {"custom_404": "/nowhere/at/all"})
    conflict = client.put("/items/1")
    assert conflict.status_code == 409
    assert conflict.json()["custom_409"]
    assert client.get("/items/1").json() == {"item_id": 1}


# --- middleware ---------------------------------------------------------------------------------

MIDDLEWARE_TREE = {
    "app.py": """
        from starlette.middleware import Middleware


        class _Mark:
            def __init__(self, app, name):
                self.app = app
                self.name = name

            async def __call__(self, scope, receive, send):
                if scope["type"] == "http":
                    scope.setdefault("trail", []).append(self.name)
                    name = self.name

                    async def send_marked(message):
                        if message["type"] == "http.response.start":
                            headers = list(message.get("headers", []))
                            headers.append((b"x-after", name.encode()))
                            message = {**message, "headers": headers}
                        await send(message)

                    await self.app(scope, receive, send_marked)
                else:
                    await self.app(scope, receive, send)


        middleware = [Middleware(_Mark, name="first"), Middleware(_Mark, name="second")]
    """,
    "middleware.py": """
        async def middleware(request, call_next):
            request.scope.setdefault("trail", []).append("middleware.py")
            response = await call_next(request)
            response.headers.append("x-after", "middleware.py")
            return response
    """,
    "routes/_layout.py": """
        async def middleware(request, call_next):
            request.scope.setdefault("trail", []).append("layout")
            response = await call_next(request)
            response.headers.append("x-after", "layout")
            return response
    """,
    "routes/index.py": """
        def GET(request):
            return {"trail": request.scope["trail"]}
    """,
}


@pytest.mark.parametrize("mode", MODES)
def test_app_middleware_first_is_outermost_all_outside_middleware_py(tmp_path, mode):
    client = TestClient(app_in_mode(write_tree(tmp_path / "app", MIDDLEWARE_TREE), mode))
    response = client.get("/")
    assert response.json() == {"trail": ["first", "second", "middleware.py", "layout"]}
    # On the way out, the innermost adds its header first.
    assert response.headers.get_list("x-after") == ["layout", "middleware.py", "second",
                                                    "first"]
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.headers.get_list("x-after") == ["middleware.py", "second", "first"]


def test_app_middleware_such_as_gzip_applies(tmp_path):
    root = write_tree(tmp_path / "app", {
        "app.py": """
            from starlette.middleware import Middleware
            from starlette.middleware.gzip import GZipMiddleware

            middleware = [Middleware(GZipMiddleware, minimum_size=10)]
        """,
        "routes/index.py": "def GET(request):\n    return {'text': 'x' * 1000}\n",
    })
    for mode in ("eager", "lazy"):
        response = TestClient(app_in_mode(root, mode)).get("/", headers={"accept-encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.json() == {"text": "x" * 1000}


# --- configure(app) ---------------------------------------------------------------------------

CONFIGURE_TREE = {
    "app.py": """
        from fastapi import FastAPI

        calls = []


        def configure(app):
            calls.append(sorted({getattr(r, "path", "") for r in app.router.routes}))
            sub = FastAPI()

            @sub.get("/ping")
            def ping():
                return {"pong": True}

            app.mount("/sub", sub)

            @app.get("/extra/{n}")
            def extra(n: int):
                return {"extra": n}

            app.state.configured = True
    """,
    "routes/index.py": """
        def GET(request):
            return {"configured": request.app.state.configured}
    """,
    "routes/users/[user_id]/route.py": """
        def GET(request, user_id: int):
            return {"user_id": user_id}
    """,
    "routes/chat/route.py": """
        async def WEBSOCKET(websocket):
            await websocket.accept()
            await websocket.close()
    """,
}


@pytest.mark.parametrize("dispatch", [True, False], ids=["dispatcher", "starlette-routing"])
@pytest.mark.parametrize("mode", MODES)
def test_configure_runs_once_after_every_route_and_what_it_adds_is_served(
    tmp_path, mode, dispatch
):
    root = write_tree(tmp_path / "app", CONFIGURE_TREE)
    app = app_in_mode(root, mode, dispatch=dispatch)
    app_module = loaded(root / "app.py")
    assert len(app_module.calls) == 1
    seen = set(app_module.calls[0])
    assert {"/", "/users/{user_id}", "/chat"} <= seen  # every route was registered before
    assert "/extra/{n}" not in seen and "/sub" not in seen
    with TestClient(app) as client:
        assert client.get("/sub/ping").json() == {"pong": True}
        assert client.get("/extra/3").json() == {"extra": 3}
        assert client.get("/extra/x").status_code == 422  # FastAPI's own route, validated
        assert client.get("/").json() == {"configured": True}
        assert client.get("/users/4").json() == {"user_id": 4}
        assert client.get("/sub/nothing").status_code == 404
        spec = client.get("/openapi.json").json()
    assert "/extra/{n}" in spec["paths"] and "/users/{user_id}" in spec["paths"]
    assert len(app_module.calls) == 1  # and only once


# --- wrong values -------------------------------------------------------------------------------

# Calls and names, not literals: a literal of the wrong shape is the build's to refuse
# (tests/test_setting_values.py); these only the import shows.
WRONG_APP = {
    "a non-callable configure": "configure = int(3)\n",
    "a non-Middleware entry": (
        "from starlette.middleware.gzip import GZipMiddleware\n"
        "middleware = [GZipMiddleware]\n"
    ),
    "middleware not a list": "middleware = int(3)\n",
    "a non-callable handler": "exception_handlers = dict({404: 'not a function'})\n",
    "exception_handlers not a dict": "exception_handlers = list([1])\n",
    "a non-callable lifespan": "lifespan = str('soon')\n",
}


@pytest.mark.parametrize("mode", ["eager", "lazy", "cache"])
@pytest.mark.parametrize("case", WRONG_APP)
def test_a_wrong_app_py_value_stops_create_app_naming_app_py(tmp_path, mode, case):
    root = write_tree(tmp_path / "app", {
        "app.py": WRONG_APP[case],
        "routes/index.py": "def GET(request):\n    return {}\n",
    })
    with pytest.raises(FastAPIRouteError) as info:
        app_in_mode(root, mode)
    assert "app.py" in str(info.value)


@pytest.mark.parametrize("mode", ["eager", "lazy", "cache"])
def test_configure_raising_is_an_error_naming_app_py(tmp_path, mode):
    root = write_tree(tmp_path / "app", {
        "app.py": """
            def configure(app):
                raise RuntimeError("no database")
        """,
        "routes/index.py": "def GET(request):\n    return {}\n",
    })
    with pytest.raises(FastAPIRouteError) as info:
        app_in_mode(root, mode)
    message = str(info.value)
    assert "app.py" in message and "no database" in message
    assert isinstance(info.value.__cause__, RuntimeError)


def test_an_app_py_that_raises_on_import_names_app_py(tmp_path):
    root = write_tree(tmp_path / "app", {
        "app.py": "raise ImportError('missing dependency')\n",
        "routes/index.py": "def GET(request):\n    return {}\n",
    })
    for mode in ("eager", "lazy"):
        with pytest.raises(FastAPIRouteError) as info:
            app_in_mode(root, mode)
        assert "app.py" in str(info.value)


def test_no_app_py_is_fine(tmp_path):
    root = write_tree(tmp_path / "app", {"routes/index.py": "def GET(request):\n    return {}\n"})
    with TestClient(app_in_mode(root, "eager")) as client:
        assert client.get("/").json() == {}


def test_a_package_projects_absolute_and_relative_imports_reach_one_module(tmp_path):
    """In a project that is a package (`__init__.py`), `from <package>.app import state` and
    `from ..app import state` are the same module the runtime loaded: one module per file."""
    package = f"frpkg_{abs(hash(str(tmp_path))) % 10**8}"
    root = write_tree(tmp_path / package, {
        "__init__.py": "",
        "app.py": """
            from contextlib import asynccontextmanager

            state = {}


            @asynccontextmanager
            async def lifespan(app):
                state["ready"] = True
                yield
        """,
        "helpers.py": "seen = []\n",
        "routes/index.py": f"""
            from {package}.app import state as absolute
            from {package}.helpers import seen

            from ..app import state as relative


            def GET(request):
                seen.append("index")
                return {{"same": absolute is relative, "state": absolute}}
        """,
        "routes/(g)/_layout.py": f"""
            from {package}.helpers import seen as _seen


            async def middleware(request, call_next):
                _seen.append("layout")
                return await call_next(request)
        """,
        "routes/(g)/other/route.py": """
            from ....helpers import seen


            def GET(request):
                return {"seen": list(seen)}
        """,
    })
    try:
        for mode in ("eager", "lazy"):
            with TestClient(create_app(root, source="scan", lazy=mode == "lazy")) as client:
                assert client.get("/").json() == {"same": True, "state": {"ready": True}}
                assert client.get("/other").json()["seen"][-2:] == ["index", "layout"]
        assert loaded(root / "app.py") is sys.modules[f"{package}.app"]
        assert loaded(root / "helpers.py") is sys.modules[f"{package}.helpers"]
    finally:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]
