"""SPEC 9 parity: FastAPI's "Advanced Middleware" tutorial against its port, examples/gzip.

The tutorial's GZip app is rebuilt here as FastAPI would have it; the port is the file tree in
examples/gzip (copied to a temporary folder), whose app.py says
`middleware = [Middleware(GZipMiddleware, minimum_size=1000, ...)]`. A large body is
gzip-encoded for a client that accepts gzip, a small one never is, and both apps send the same
bytes. The tutorial's other two middleware (TrustedHost, HTTPSRedirect) and the order of an
app.py middleware list are checked on small trees written here.
"""

from __future__ import annotations

import gzip
import inspect
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import app_in_mode, write_tree
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gzip"
MODES = ["eager", "lazy", "cache-lazy"]  # see conftest.app_in_mode
LARGE = "x" * 4000




def original_gzip_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=5)

    @app.get("/")
    async def main() -> Any:
        return "somebigcontent"

    @app.get("/large")
    async def large() -> Any:
        return PlainTextResponse(LARGE)

    return app


@pytest.fixture(params=MODES)
def port(request: pytest.FixtureRequest, tmp_path: Path) -> FastAPI:
    root = Path(shutil.copytree(
        EXAMPLE, tmp_path / "gzip", ignore=shutil.ignore_patterns("__pycache__", ".cache")
    ))
    return app_in_mode(root, request.param)


def raw_get(client: TestClient, path: str, accept: str | None) -> tuple[int, dict[str, str], bytes]:
    """Status, the headers that matter here and the body as sent (not decoded by httpx);
    `accept` None sends no Accept-Encoding at all (httpx would send its own)."""
    request = client.build_request("GET", path)
    if accept is None:
        del request.headers["accept-encoding"]
    else:
        request.headers["accept-encoding"] = accept
    response = client.send(request, stream=True)
    try:
        body = b"".join(response.iter_raw())
    finally:
        response.close()
    kept = {k: response.headers[k] for k in ("content-encoding", "content-length", "vary",
                                              "content-type") if k in response.headers}
    return response.status_code, kept, body


def test_a_large_body_is_gzipped_for_a_client_that_accepts_gzip(port):
    with TestClient(port) as client:
        status, headers, body = raw_get(client, "/large", "gzip")
        assert status == 200
        assert headers["content-encoding"] == "gzip"
        assert int(headers["content-length"]) == len(body) < len(LARGE)
        assert gzip.decompress(body).decode() == LARGE
        # httpx decodes it back to the original, as a browser would.
        decoded = client.get("/large", headers={"accept-encoding": "gzip"})
        assert decoded.text == LARGE


@pytest.mark.parametrize("accept", [None, "identity", "br", "deflate"])
def test_a_large_body_is_not_gzipped_for_a_client_that_does_not_accept_gzip(port, accept):
    with TestClient(port) as client:
        status, headers, body = raw_get(client, "/large", accept)
    assert (status, body) == (200, LARGE.encode())
    assert "content-encoding" not in headers


@pytest.mark.parametrize("accept", ["gzip", None])
def test_a_small_body_is_never_gzipped(port, accept):
    with TestClient(port) as client:
        status, headers, body = raw_get(client, "/", accept)
    assert (status, body) == (200, b'"somebigcontent"')
    assert "content-encoding" not in headers


REQUESTS = [("/", "gzip"), ("/", None), ("/large", "gzip"), ("/large", None),
            ("/large", "gzip;q=0"), ("/large", "deflate, gzip")]


def test_the_port_sends_the_same_bytes_as_the_tutorial(port):
    def conversation(app: FastAPI) -> list[tuple[int, dict[str, str], bytes]]:
        with TestClient(app) as client:
            return [without_mtime(raw_get(client, path, accept)) for path, accept in REQUESTS]

    def without_mtime(answer: tuple[int, dict[str, str], bytes]) -> tuple[
            int, dict[str, str], bytes]:
        # A gzip member's bytes 4-8 are the time it was written (older Starlette sets it):
        # two answers a second apart differ there and nowhere else.
        status, headers, body = answer
        if headers.get("content-encoding") == "gzip" and body[:2] == b"\x1f\x8b":
            body = body[:4] + b"\0\0\0\0" + body[8:]
        return status, headers, body

    expected = conversation(original_gzip_app())
    assert [h.get("content-encoding") for _, h, _ in expected] == [
        None, None, "gzip", None,
        # Starlette's GZip looks for "gzip" in the header and does not read q-values.
        "gzip", "gzip",
    ]
    assert conversation(port) == expected


@pytest.mark.parametrize("mode", MODES)
def test_minimum_size_is_the_one_app_py_gives(tmp_path, mode):
    """Bodies around 1000 bytes: compressed from exactly where the original compresses (a
    middleware built with GZip's default minimum_size, 500, would differ at 600)."""
    root = Path(shutil.copytree(
        EXAMPLE, tmp_path / "gzip", ignore=shutil.ignore_patterns("__pycache__", ".cache")
    ))
    write_tree(root, {"routes/sized/[n]/route.py": """
        from fastapi.responses import PlainTextResponse


        def GET(request, n: int):
            return PlainTextResponse("y" * n)
    """})
    original = original_gzip_app()

    @original.get("/sized/{n}")
    def sized(n: int) -> Any:
        return PlainTextResponse("y" * n)

    def encodings(app: FastAPI) -> list[str | None]:
        with TestClient(app) as client:
            return [raw_get(client, f"/sized/{n}", "gzip")[1].get("content-encoding")
                    for n in (600, 999, 1000, 1001)]

    expected = encodings(original)
    assert expected == [None, None, "gzip", "gzip"]
    assert encodings(app_in_mode(root, mode)) == expected


# --- the tutorial's other two middleware, on trees written here ---------------------------


def hello_tree(middleware_line: str, import_line: str) -> dict[str, str]:
    return {
        "app.py": f"""
            from starlette.middleware import Middleware
            {import_line}

            middleware = [{middleware_line}]
        """,
        "routes/index.py": """
            async def GET(request):
                return {"message": "Hello World"}
        """,
    }


def original_hello(middleware: list[Middleware]) -> FastAPI:
    app = FastAPI(middleware=middleware)

    @app.get("/")
    async def main() -> Any:
        return {"message": "Hello World"}

    return app


def summary(client: TestClient, path: str, **kwargs: Any) -> tuple[int, str | None, str]:
    response = client.get(path, follow_redirects=False, **kwargs)
    return response.status_code, response.headers.get("location"), response.text


@pytest.mark.parametrize("mode", MODES)
def test_trusted_host(mode, tmp_path):
    root = write_tree(tmp_path / "trusted", hello_tree(
        'Middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"])',
        "from starlette.middleware.trustedhost import TrustedHostMiddleware",
    ))
    original = original_hello(
        [Middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"])]
    )

    def conversation(app: FastAPI) -> list[tuple[int, str | None, str]]:
        results = []
        for base in ("http://example.com", "http://api.example.com", "http://testserver",
                     "http://evil.com"):
            with TestClient(app, base_url=base) as client:
                results.append(summary(client, "/"))
        return results

    expected = conversation(original)
    assert [status for status, _, _ in expected] == [200, 200, 400, 400]
    assert conversation(app_in_mode(root, mode)) == expected


@pytest.mark.parametrize("mode", MODES)
def test_https_redirect(mode, tmp_path):
    root = write_tree(tmp_path / "https", hello_tree(
        "Middleware(HTTPSRedirectMiddleware)",
        "from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware",
    ))
    original = original_hello([Middleware(HTTPSRedirectMiddleware)])

    def conversation(app: FastAPI) -> list[tuple[int, str | None, str]]:
        with TestClient(app, base_url="http://example.com") as client:
            plain = [summary(client, "/"), summary(client, "/nowhere?a=1")]
        with TestClient(app, base_url="https://example.com") as client:
            secure = [summary(client, "/")]
        return plain + secure

    expected = conversation(original)
    assert expected[0][:2] == (307, "https://example.com/")
    assert expected[1][:2] == (307, "https://example.com/nowhere?a=1")
    assert expected[2] == (200, None, '{"message":"Hello World"}')
    assert conversation(app_in_mode(root, mode)) == expected


# --- an app.py middleware list: first is outermost, all outside middleware.py ---------------


class Mark:
    """Pure ASGI middleware: notes its name on the way in (request.state.trail) and on the
    way out (an x-out header). The ported tree gets this very source as marks.py."""

    def __init__(self, app: Any, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope.setdefault("state", {}).setdefault("trail", []).append(f"{self.name} in")

        async def send_marked(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-out", self.name.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_marked)


def test_an_app_py_middleware_list_is_first_outermost_and_outside_middleware_py(tmp_path):
    root = write_tree(tmp_path / "order", {
        "marks.py": "from typing import Any\n\n\n" + inspect.getsource(Mark),
        "app.py": """
            from starlette.middleware import Middleware

            from .marks import Mark

            middleware = [Middleware(Mark, name="first"), Middleware(Mark, name="second")]
        """,
        "middleware.py": """
            async def middleware(request, call_next):
                request.state.trail.append("middleware.py in")
                response = await call_next(request)
                response.headers.append("x-out", "middleware.py")
                return response
        """,
        "routes/index.py": """
            def GET(request):
                return {"trail": request.state.trail}
        """,
    })
    async def function_middleware(request: Request, call_next: Any) -> Any:
        request.state.trail.append("middleware.py in")
        response = await call_next(request)
        response.headers.append("x-out", "middleware.py")
        return response

    # SPEC 9 puts app.py's list outside middleware.py's function. (FastAPI's own
    # `@app.middleware("http")` would be added outside a constructor's list, so the function is
    # given here as the list's innermost entry, which is where the spec says it runs.)
    original = FastAPI(middleware=[
        Middleware(Mark, name="first"), Middleware(Mark, name="second"),
        Middleware(BaseHTTPMiddleware, dispatch=function_middleware),
    ])

    @original.get("/")
    def index(request: Request) -> Any:
        return {"trail": request.state.trail}

    def seen(app: FastAPI) -> tuple[Any, list[str]]:
        with TestClient(app) as client:
            response = client.get("/")
            return response.json(), response.headers.get_list("x-out")

    expected = seen(original)
    assert expected == ({"trail": ["first in", "second in", "middleware.py in"]},
                        ["middleware.py", "second", "first"])
    for mode in MODES:
        assert seen(app_in_mode(root, mode)) == expected, mode
