"""SPEC 14.2: a `_layout.py`'s `exception_handlers` handle what the HTTP routes below its folder
raise, innermost layout first, then app.py's, then FastAPI's defaults.

- `examples/handling_errors_by_folder/`: FastAPI's "Handling Errors" tutorial with its
  handlers moved into folders (UnicornException below /unicorns, RequestValidationError below
  /items, a 404 by status code below /items-header); the same exceptions raised outside those
  folders get app.py's handler or FastAPI's default. Served from a scan, from the cache, on
  demand, lazily and registered up front.
- A tree of nested layouts: Starlette's lookup within each layout (status code, then classes
  nearest first), the inner layout before the outer, app.py's after both; `Exception` and 500
  only for what no other handler answers; middleware sees the handler's response; a
  dependency with `yield` sees the exception first; websockets, 404s and 405s are left to the
  app's handlers; OpenAPI is the same with or without handlers; explain lists them in order.
- The same tree included in a host app: the host's handlers come after the layouts'.
- `dev` swaps a layout's handlers in place; `run` (real uvicorn) serves them from the cache,
  and stops before binding on a handler the build could not see is wrong.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import app_in_mode, write_tree
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

import fastapi_route
from fastapi_route.explain import explain
from fastapi_route.explain.render import render

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "handling_errors_by_folder"
LOGGED = "OMG! An HTTP error!"
NOT_AN_INT = "Input should be a valid integer, unable to parse string as an integer"

# conftest.app_in_mode's modes (scan or cache; routes on demand, or imported on use), and
# "registered": every route registered with FastAPI before the first request.
MODES = ["eager", "lazy", "cache", "cache-lazy", "registered"]


def serve(root: Path, mode: str) -> FastAPI:
    if mode == "registered":
        return app_in_mode(root, "cache", schedule="eager")  # type: ignore[no-any-return]
    return app_in_mode(root, mode)  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=MODES)
def example(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("by-folder") / "handling_errors_by_folder"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".cache"))
    with TestClient(serve(root, request.param), raise_server_exceptions=False) as client:
        yield client


INVALID = {"title": "towel", "size": "XL"}
ERRORS = [{"type": "int_parsing", "loc": ["body", "size"], "msg": NOT_AN_INT, "input": "XL"}]

# (method, url, request JSON) -> (status, body: JSON or text, x-error header, app.py's ran)
EXAMPLE_CASES: dict[str, tuple[tuple[str, str, Any], tuple[int, Any, str | None, bool]]] = {
    "the folder's handler": (("GET", "/unicorns/yolo", None), (
        418, {"message": "Oops! yolo did something. There goes a rainbow..."}, None, False)),
    "no exception in the folder": (("GET", "/unicorns/shinny", None), (
        200, {"unicorn_name": "shinny"}, None, False)),
    "the same exception outside the folder": (("GET", "/horses/yolo", None), (
        500, "Internal Server Error", None, False)),
    "a validation error in the folder": (("POST", "/items", INVALID), (
        422, {"detail": ERRORS, "body": INVALID}, None, False)),
    "a validation error outside the folder": (("POST", "/orders", INVALID), (
        422, {"detail": ERRORS}, None, False)),
    "an HTTPException the folder does not handle": (("GET", "/items/bar", None), (
        404, {"detail": "Item not found"}, None, True)),
    "a 404 by status code in the folder": (("GET", "/items-header/bar", None), (
        404, "Item not found", "There goes my error", False)),
    "another status in that folder": (("GET", "/items-header/bad", None), (
        400, {"detail": "Bad item"}, None, True)),
    "no route": (("GET", "/nowhere", None), (404, {"detail": "Not Found"}, None, True)),
    "a wrong method": (("DELETE", "/items-header/foo", None), (
        405, {"detail": "Method Not Allowed"}, None, True)),
}


def answer(client: TestClient, method: str, url: str, json: Any,
           capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str | None, bool]:
    capsys.readouterr()
    response = client.request(method, url, json=json)
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        for error in body.get("detail", []) if isinstance(body, dict) else ():
            if isinstance(error, dict):
                error.pop("url", None)  # older FastAPI releases add pydantic's docs URL
    else:
        body = response.text
    return (response.status_code, body, response.headers.get("x-error"),
            LOGGED in capsys.readouterr().out)


@pytest.mark.parametrize("case", EXAMPLE_CASES)
def test_the_example_answers_by_folder(example: TestClient, case: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (method, url, json), expected = EXAMPLE_CASES[case]
    assert answer(example, method, url, json, capsys) == expected


def test_the_examples_documents_show_no_handler(example: TestClient) -> None:
    """Handlers are not in OpenAPI (as FastAPI's are not): the validation error's schema is
    FastAPI's own, in the folder and outside it."""
    paths = example.get("/openapi.json").json()["paths"]
    for path in ("/items", "/orders"):
        assert paths[path]["post"]["responses"]["422"]["content"]["application/json"][
            "schema"] == {"$ref": "#/components/schemas/HTTPValidationError"}


# A tree of nested layouts. Each handler answers who it is; `raising.py` raises what a query
# asks for, and records what a layout's `yield` dependency saw.
RAISING = """
    from starlette.exceptions import HTTPException

    SEEN = []


    def raise_(what):
        if what.startswith("http"):
            raise HTTPException(status_code=int(what[4:]), detail=what)
        errors = {"unicode": UnicodeError, "value": ValueError, "zero": ZeroDivisionError,
                  "overflow": OverflowError, "key": KeyError}
        if what in errors:
            raise errors[what](what)
"""


def _route(up: int) -> str:
    return f"""
        from {"." * up}raising import raise_


        def GET(request, what: str = "", n: int = 0):
            raise_(what)
            return {{"ok": True}}
    """


OUTER_HANDLERS = """

        exception_handlers = {
            ValueError: _by("outer ValueError"),
            ArithmeticError: _by("outer ArithmeticError"),
            ZeroDivisionError: _by("outer ZeroDivisionError"),
            HTTPException: _by("outer HTTPException"),
            404: _by("outer 404"),
        }
"""
INNER_HANDLERS = """

        exception_handlers = {UnicodeError: _inner_unicode, 409: _inner_409}
"""

TREE = {
    "raising.py": RAISING,
    "app.py": """
        from fastapi.responses import JSONResponse
        from starlette.middleware import Middleware
        from starlette.middleware.base import BaseHTTPMiddleware


        async def _lookup(request, exc):
            return JSONResponse({"by": "app LookupError"}, status_code=460)


        async def _overflow(request, exc):
            return JSONResponse({"by": "app OverflowError"}, status_code=461)


        async def _saw(request, call_next):
            response = await call_next(request)
            response.headers["x-app-saw"] = str(response.status_code)
            return response


        exception_handlers = {LookupError: _lookup, OverflowError: _overflow}
        middleware = [Middleware(BaseHTTPMiddleware, dispatch=_saw)]
    """,
    "routes/top/route.py": _route(3),
    "routes/seen/route.py": """
        from ...raising import SEEN


        def GET(request):
            return SEEN
    """,
    "routes/a/_layout.py": """
        from fastapi import Depends
        from fastapi.responses import JSONResponse
        from starlette.exceptions import HTTPException

        from ...raising import SEEN


        def _by(name):
            async def handler(request, exc):
                status = getattr(exc, "status_code", 470)
                return JSONResponse({"by": name, "path": request.url.path}, status_code=status)
            return handler


        async def _watch():
            try:
                yield
            except Exception as exc:
                SEEN.append(type(exc).__name__)
                raise


        async def middleware(request, call_next):
            response = await call_next(request)
            response.headers["x-layout-saw"] = str(response.status_code)
            return response


        dependencies = [Depends(_watch)]
    """ + OUTER_HANDLERS,
    "routes/a/route.py": _route(3),
    "routes/a/b/_layout.py": """
        from fastapi.responses import JSONResponse


        def _inner_unicode(request, exc):  # a plain def: run in the thread pool
            return JSONResponse({"by": "inner UnicodeError"}, status_code=471)


        async def _inner_409(request, exc):
            return JSONResponse({"by": "inner 409"}, status_code=409)
    """ + INNER_HANDLERS,
    "routes/a/b/route.py": _route(4),
    # Server-error handlers (Exception, 500): what no other handler answers.
    "routes/c/_layout.py": """
        from fastapi.responses import JSONResponse


        async def _server_error(request, exc):
            return JSONResponse({"by": "c Exception"}, status_code=503)


        async def middleware(request, call_next):
            response = await call_next(request)
            response.headers["x-layout-saw"] = str(response.status_code)
            return response


        exception_handlers = {Exception: _server_error}
    """,
    "routes/c/route.py": _route(3),
    "routes/c/d/_layout.py": """
        from fastapi.responses import JSONResponse


        def _server_error(request, exc):
            return JSONResponse({"by": "d 500"}, status_code=500)


        exception_handlers = {500: _server_error}
    """,
    "routes/c/d/route.py": _route(4),
    "routes/a/b/live/route.py": """
        async def WEBSOCKET(websocket):
            await websocket.accept()
            await websocket.send_text("hello")
            raise UnicodeError("in a websocket")
    """,
}

# url -> (status, who answered: a handler's "by", or FastAPI's default body)
TREE_CASES = {
    "/a/b?what=unicode": (471, "inner UnicodeError"),
    "/a/b?what=http409": (409, "inner 409"),
    # Nothing for it in the inner layout: the outer one's.
    "/a/b?what=value": (470, "outer ValueError"),
    # Within one layout, the nearest class wins; an HTTPException's status code first.
    "/a/b?what=zero": (470, "outer ZeroDivisionError"),
    # app.py's handler for the very class comes after any layout's for a base class of it.
    "/a/b?what=overflow": (470, "outer ArithmeticError"),
    "/a/b?what=http404": (404, "outer 404"),
    "/a/b?what=http400": (400, "outer HTTPException"),
    # No layout has one: app.py's, then FastAPI's default.
    "/a/b?what=key": (460, "app LookupError"),
    "/a/b?n=x": (422, "FastAPI"),
    # The outer folder's route: the inner layout does not apply.
    "/a?what=unicode": (470, "outer ValueError"),
    "/a?what=http409": (409, "outer HTTPException"),
    # Outside both folders.
    "/top?what=unicode": (500, "none"),
    "/top?what=value": (500, "none"),
    "/top?what=http404": (404, "FastAPI"),
    "/top?what=key": (460, "app LookupError"),
    "/top?what=overflow": (461, "app OverflowError"),
    # A server-error handler answers only what no other handler does, the inner one first.
    "/c?what=zero": (503, "c Exception"),
    "/c?what=http404": (404, "FastAPI"),
    "/c?what=http500": (500, "FastAPI"),
    "/c?what=key": (460, "app LookupError"),
    "/c?n=x": (422, "FastAPI"),
    "/c/d?what=zero": (500, "d 500"),
    "/c/d?what=key": (460, "app LookupError"),
    # Not a route's exception: no route matched, or no method.
    "/a/b/nowhere": (404, "FastAPI"),
}


def who(response: Any) -> str:
    if not response.headers["content-type"].startswith("application/json"):
        return "none"  # Starlette's plain "Internal Server Error": nobody handled it
    body = response.json()
    return str(body["by"]) if "by" in body else "FastAPI"


@pytest.fixture(scope="module", params=MODES)
def nested(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = write_tree(tmp_path_factory.mktemp("nested") / "app", TREE)
    with TestClient(serve(root, request.param), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("url", TREE_CASES)
def test_inner_layout_first_then_outer_then_app_then_fastapi(nested: TestClient,
                                                             url: str) -> None:
    response = nested.get(url)
    assert (response.status_code, who(response)) == TREE_CASES[url]


def test_a_wrong_method_is_the_apps(nested: TestClient) -> None:
    """No route of the folder ran: its layouts' HTTPException handler does not answer."""
    response = nested.delete("/a/b")
    assert (response.status_code, who(response)) == (405, "FastAPI")
    assert response.headers["allow"] == "GET, HEAD"


def test_middleware_sees_the_handlers_response(nested: TestClient) -> None:
    """The layout's middleware and app.py's see what a folder's handler answered, as they
    see what app.py's handlers answer."""
    response = nested.get("/a/b?what=unicode")
    assert response.headers["x-layout-saw"] == response.headers["x-app-saw"] == "471"
    response = nested.get("/a/b?what=key")
    assert response.headers["x-layout-saw"] == response.headers["x-app-saw"] == "460"
    assert nested.get("/top?what=http404").headers["x-app-saw"] == "404"


def test_a_server_error_handler_answers_and_logs(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """As app.py's `Exception` handler: the response is sent and seen by middleware, and the
    exception is logged with its traceback (not raised on: a TestClient gets the answer)."""
    root = write_tree(tmp_path / "app", TREE)
    with TestClient(app_in_mode(root, "eager")) as client:
        caplog.clear()
        response = client.get("/c/d?what=zero")
        assert response.json() == {"by": "d 500"}
        assert response.headers["x-layout-saw"] == response.headers["x-app-saw"] == "500"
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.name == "fastapi_route" and "GET /c/d" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


def test_a_yield_dependency_sees_the_exception_before_the_handler(nested: TestClient) -> None:
    """As with app.py's handlers, the exception first goes through the dependencies'
    `yield` (a session rolls back), then to the handler."""
    before = nested.get("/seen").json()
    assert nested.get("/a/b?what=zero").status_code == 470
    assert nested.get("/seen").json() == [*before, "ZeroDivisionError"]


def test_a_websocket_is_left_to_app_pys_handlers(nested: TestClient) -> None:
    """SPEC 14.2 speaks of HTTP routes: a websocket below a layout with handlers works, and
    what it raises is not answered by the layout's (an HTTP response cannot answer it)."""
    with pytest.raises(UnicodeError), nested.websocket_connect("/a/b/live") as ws:
        assert ws.receive_text() == "hello"
        ws.receive_text()


def without_handlers(files: dict[str, str]) -> dict[str, str]:
    return {name: text.replace(OUTER_HANDLERS, "").replace(INNER_HANDLERS, "")
            for name, text in files.items()}


def test_openapi_is_the_same_with_or_without_handlers(tmp_path: Path) -> None:
    documents = []
    for name, files in (("with", TREE), ("without", without_handlers(TREE))):
        root = write_tree(tmp_path / name / "app", files)
        with TestClient(app_in_mode(root, "eager")) as client:
            documents.append(client.get("/openapi.json").json())
    assert "exception_handlers" not in without_handlers(TREE)["routes/a/_layout.py"]
    assert documents[0] == documents[1]


@pytest.mark.parametrize("schedule", ["eager", "warm", "lazy"])
def test_an_included_tree_falls_back_to_the_hosts_handlers(tmp_path: Path,
                                                          schedule: str) -> None:
    root = write_tree(tmp_path / "tree", TREE)
    host = FastAPI()

    @host.exception_handler(LookupError)
    async def host_lookup(request: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"by": "host LookupError"}, status_code=461)

    fastapi_route.include(host, root, prefix="/v2", source="scan",
                          schedule=schedule)  # type: ignore[arg-type]  # app.py: not used
    with TestClient(host, raise_server_exceptions=False) as client:
        for url, expected in {
            "/v2/a/b?what=unicode": (471, "inner UnicodeError"),
            "/v2/a/b?what=value": (470, "outer ValueError"),
            "/v2/a/b?what=key": (461, "host LookupError"),
            "/v2/top?what=key": (461, "host LookupError"),
            "/v2/top?what=http404": (404, "FastAPI"),
            "/v2/top?what=unicode": (500, "none"),
        }.items():
            response = client.get(url)
            assert (response.status_code, who(response)) == expected, url


def test_explain_lists_the_handlers_in_lookup_order(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", TREE)
    e = explain(root, "GET", "/c/d", source="scan")
    handlers = [(h.key, h.origin, h.last_resort) for h in e.exception_handlers]
    # The layouts' (none here but server errors), the app's, then the server-error ones.
    assert handlers[0] == ("LookupError", "app.py", False)
    assert ("HTTPException", "FastAPI", False) in handlers
    assert handlers[-2:] == [("500", "routes/c/d/_layout.py", True),
                             ("Exception", "routes/c/_layout.py", True)]
    e = explain(root, "GET", "/a/b", source="scan")
    assert [(h.key, h.origin) for h in e.exception_handlers][:8] == [
        ("UnicodeError", "routes/a/b/_layout.py"), ("409", "routes/a/b/_layout.py"),
        ("ValueError", "routes/a/_layout.py"), ("ArithmeticError", "routes/a/_layout.py"),
        ("ZeroDivisionError", "routes/a/_layout.py"), ("HTTPException", "routes/a/_layout.py"),
        ("404", "routes/a/_layout.py"), ("LookupError", "app.py"),
    ]
    assert "UnicodeError: _inner_unicode  (routes/a/b/_layout.py)" in render(e)
    assert "WebSocketRequestValidationError" not in {h.key for h in e.exception_handlers}
    # A websocket: the layouts' do not apply.
    e = explain(root, "WEBSOCKET", "/a/b/live", source="scan")
    assert e.route is not None and e.route.method == "WEBSOCKET"
    assert {h.origin for h in e.exception_handlers} <= {"app.py", "FastAPI"}
    assert "RequestValidationError" not in {h.key for h in e.exception_handlers}


def test_dev_takes_a_layouts_handlers_in_place(tmp_path: Path) -> None:
    """`dev` swaps a saved layout in without a restart: its handlers are added, changed and
    taken away with it."""
    from fastapi_route.config import load_config
    from fastapi_route.project import Project
    from fastapi_route.runtime.devserver import DevApp

    root = write_tree(tmp_path / "app", {"raising.py": RAISING, "routes/a/route.py": _route(3)})
    dev = DevApp(Project(root), load_config(root))
    dev.build()
    layout = """
        from fastapi.responses import JSONResponse


        async def _value(request, exc):
            return JSONResponse({"by": "%s"}, status_code=470)


        exception_handlers = {ValueError: _value}
    """
    with TestClient(dev, raise_server_exceptions=False) as client:
        assert client.get("/a?what=value").status_code == 500
        for version in ("dev 1", "dev 2"):
            write_tree(root, {"routes/a/_layout.py": layout % version})
            dev.reload_routes()
            assert client.get("/a?what=value").json() == {"by": version}
        (root / "routes/a/_layout.py").unlink()
        dev.reload_routes()
        assert client.get("/a?what=value").status_code == 500


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["on demand", "--lazy"])
def test_run_serves_the_folders_handlers_from_the_cache(tmp_path: Path, schedule: str) -> None:
    """`fastapi-route run` on real uvicorn, from the build: the folder's handler answers its
    route, not the route outside the folder."""
    from servers import run_args, run_cli, start_server

    root = tmp_path / "handling_errors_by_folder"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".cache"))
    built = run_cli(["build", "--project", str(root)], cwd=tmp_path)
    assert built.returncode == 0, built.stdout
    extra = () if schedule == "on demand" else ("--lazy",)
    with start_server(run_args(root, *extra), cwd=tmp_path,
                      ready_path="/unicorns/shinny") as server:
        status, _, body = server.get("/unicorns/yolo")
        assert (status, body) == (
            418, b'{"message":"Oops! yolo did something. There goes a rainbow..."}')
        assert server.get("/horses/yolo")[0] == 500
        assert server.get("/items-header/bar")[1]["x-error"] == "There goes my error"


@pytest.mark.slow
def test_run_refuses_a_layouts_handler_that_is_not_callable_before_binding(
    tmp_path: Path,
) -> None:
    """What only the import shows (a value the build cannot read) stops `run` with exit 1,
    naming the layout, before it binds its port."""
    from servers import run_cli, run_refused_before_binding

    root = write_tree(tmp_path / "app", {
        "raising.py": RAISING, "routes/a/route.py": _route(3),
        "routes/a/_layout.py": "exception_handlers = dict({ValueError: 'not a function'})\n",
    })
    built = run_cli(["build", "--project", str(root)], cwd=tmp_path)
    assert built.returncode == 0, built.stdout
    out = run_refused_before_binding(root, tmp_path)
    assert "routes/a/_layout.py: exception_handlers must be a dict of exception class or " \
           "status code to handler, got {<class 'ValueError'>: 'not a function'}" in out


BODY_READERS = {
    "app.py": """
        from fastapi.responses import JSONResponse


        async def echo_body(request, exc):
            return JSONResponse({"by": "app", "body": (await request.body()).decode()}, 400)


        exception_handlers = {ValueError: echo_body}
    """,
    "routes/plain/route.py": """
        async def POST(request, payload: dict):
            raise ValueError(payload)
    """,
    "routes/inner/_layout.py": """
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import JSONResponse


        async def echo_json(request, exc):
            return JSONResponse({"by": "layout", "body": await request.json()}, 422)


        def unrelated(request, exc):
            return JSONResponse({"by": "layout key"}, 409)


        exception_handlers = {RequestValidationError: echo_json, KeyError: unrelated}
    """,
    "routes/inner/route.py": """
        async def POST(request, payload: dict):
            raise ValueError(payload)
    """,
    "routes/inner/count/route.py": """
        def POST(request, count: int):
            return {"count": count}
    """,
}


@pytest.mark.parametrize("mode", ["eager", "cache-lazy"])
def test_a_handler_reads_the_body_the_route_read(tmp_path: Path, mode: str) -> None:
    """The route's handler read the body; a handler (the layout's, or app.py's for a route
    below a layout with handlers) reads it again, as it can for a route elsewhere, instead of
    waiting for a body that will not come."""
    import asyncio

    import httpx

    root = write_tree(tmp_path / "app", BODY_READERS)
    app = app_in_mode(root, mode)

    async def ask() -> list[tuple[int, Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = []
            for url, body in (("/plain", '{"a": 1}'), ("/inner", '{"a": 1}'),
                              ("/inner/count", '{"count": "many"}')):
                response = await client.post(url, content=body,
                                             headers={"content-type": "application/json"})
                answers.append((response.status_code, response.json()))
            return answers

    answers = asyncio.run(asyncio.wait_for(ask(), 20))  # a handler left waiting: a timeout
    assert answers == [
        (400, {"by": "app", "body": '{"a": 1}'}),
        (400, {"by": "app", "body": '{"a": 1}'}),  # below a layout: app.py's, the same
        (422, {"by": "layout", "body": {"count": "many"}}),
    ]


def test_without_starlettes_scope_key_it_warns_once_and_the_layout_still_answers(
        caplog: pytest.LogCaptureFixture) -> None:
    """The private hook's fallback: a Starlette that leaves no `starlette.exception_handlers`
    in the scope gets the stock order (the app's handlers first), and a warning, once."""
    import asyncio

    from fastapi_route.runtime import handlers

    async def route(scope: Any, receive: Any, send: Any) -> None:
        raise KeyError("k")

    def by_layout(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"by": "layout"}, 409)

    handled = handlers.Handled(route, [handlers.Handlers.of("routes/_layout.py",
                                                            {KeyError: by_layout})])
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    handlers._warn_no_scope_key.cache_clear()
    caplog.clear()
    for _ in range(2):
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [],
                 "query_string": b""}
        asyncio.run(handled(scope, receive, send))
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [409, 409]
    assert [r.getMessage() for r in caplog.records].count(
        next(r.getMessage() for r in caplog.records if handlers.SCOPE_KEY in r.getMessage())
    ) == 1


def test_a_layouts_handlers_computed_as_none_are_refused_as_the_build_refuses_a_none(
        tmp_path: Path) -> None:
    """One rule for the name: `exception_handlers = None` is wrong at build (a literal) and
    when the layout is read (a value the build could not see)."""
    from fastapi_route.errors import FastAPIRouteError

    root = write_tree(tmp_path / "app", {
        "routes/a/route.py": "def GET(request):\n    return 1\n",
        "routes/a/_layout.py": "def none():\n    return None\n\n\nexception_handlers = none()\n",
    })
    with pytest.raises(FastAPIRouteError, match="routes/a/_layout.py.*exception_handlers"):
        TestClient(app_in_mode(root, "eager")).get("/a")
