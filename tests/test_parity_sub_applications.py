"""SPEC 9 parity: FastAPI's "Sub Applications - Mounts" tutorial against its port,
examples/sub_applications, whose app.py mounts the sub-application (a FastAPI app of its own,
in subapi.py) with `configure(app)`: `app.mount("/subapi", subapi)`.

The tutorial's app is rebuilt here. In every mode the runtime builds an app
(parity.PORT_MODES), the main app's routes, the sub-application's, the URLs neither serves,
both docs pages (`/docs` and `/subapi/docs`, each fetching its own document) and both
documents (the main one without the sub-application's paths; the sub-application's, under
its mount's root path) answer as the tutorial's do.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_example, write_tree
from fastapi import FastAPI
from parity import PORT_MODES, assert_same_meaning, port_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sub_applications"


def original_app() -> FastAPI:
    # No return annotations, as in the tutorial (`-> Any` would title the response schema).
    app = FastAPI()

    @app.get("/app")
    def read_main():  # type: ignore[no-untyped-def]
        return {"message": "Hello World from main app"}

    subapi = FastAPI()

    @subapi.get("/sub")
    def read_sub():  # type: ignore[no-untyped-def]
        return {"message": "Hello World from sub API"}

    app.mount("/subapi", subapi)
    return app


@pytest.fixture(scope="module")
def original() -> Iterator[TestClient]:
    with TestClient(original_app(), follow_redirects=False) as client:
        yield client


@pytest.fixture(params=PORT_MODES)
def ported(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    root = copy_example(EXAMPLE, tmp_path)
    with TestClient(port_app(root, request.param), follow_redirects=False) as client:
        yield client


def answer(client: TestClient, method: str, url: str) -> tuple[int, str | None, Any]:
    """Status, a redirect's Location, and the JSON body (or the text of another)."""
    response = client.request(method, url)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, response.headers.get("location"), body


REQUESTS = [
    ("GET", "/app"),
    ("GET", "/subapi/sub"),
    ("GET", "/subapi/sub/"),  # the sub-application's own trailing-slash redirect
    ("GET", "/subapi/sub?x=1"),
    ("POST", "/subapi/sub"),  # 405, from the sub-application
    ("GET", "/sub"),  # 404: the sub-application's route only under its mount
    ("GET", "/subapi/app"),  # 404: the main app's route is not the sub-application's
    ("GET", "/subapi"),  # redirected to /subapi/, as by FastAPI
    ("GET", "/subapi/"),  # the sub-application's 404
    ("GET", "/subapi/openapi.json"),  # the sub-application's own document, answered as is
    ("GET", "/subapi/docs"),  # the sub-application's own page, answered as is
    ("GET", "/subapi/redoc"),
    ("GET", "/subapi/docs/oauth2-redirect"),
]


@pytest.mark.parametrize(("method", "url"), REQUESTS, ids=[f"{m} {u}" for m, u in REQUESTS])
def test_same_answers(original: TestClient, ported: TestClient, method: str, url: str) -> None:
    assert answer(ported, method, url) == answer(original, method, url)


def test_the_yardstick() -> None:
    with TestClient(original_app(), follow_redirects=False) as client:
        assert client.get("/subapi/sub").json() == {"message": "Hello World from sub API"}
        assert client.get("/subapi").status_code == 307
        document = client.get("/subapi/openapi.json").json()
        assert list(document["paths"]) == ["/sub"]
        assert document["servers"] == [{"url": "/subapi"}]


def fetched_document(client: TestClient, page: str) -> str:
    """The URL a Swagger UI page fetches its document from."""
    response = client.get(page)
    assert response.status_code == 200
    found = re.search(r"url: '([^']*)'", response.text)
    assert found, response.text
    return found.group(1)


def test_each_docs_page_fetches_its_own_document(original: TestClient,
                                                 ported: TestClient) -> None:
    for page, document in (("/docs", "/openapi.json"), ("/subapi/docs", "/subapi/openapi.json")):
        assert fetched_document(ported, page) == fetched_document(original, page) == document
        assert ported.get(document).status_code == 200


def test_the_main_document_leaves_the_sub_application_out(original: TestClient,
                                                          ported: TestClient) -> None:
    want = original.get("/openapi.json").json()
    got = ported.get("/openapi.json").json()
    assert_same_meaning(want, got)
    assert list(got["paths"]) == ["/app"]
    assert "servers" not in got


def test_the_sub_documents_are_equal(original: TestClient, ported: TestClient) -> None:
    """Not only in meaning: the sub-application is the same FastAPI app, so its document is
    the tutorial's to the byte (its FastAPI-made operation ids included)."""
    want = original.get("/subapi/openapi.json")
    assert ported.get("/subapi/openapi.json").content == want.content
    assert want.json()["paths"]["/sub"]["get"]["operationId"] == "read_sub_sub_get"


# --- a sub-application that is a file tree of its own -----------------------------------------

TREE_IN_TREE = {
    "routes/app/route.py": """
        def GET(request):
            return {"message": "Hello World from main app"}
    """,
    "subapi/routes/sub/route.py": """
        def GET(request):
            return {"message": "Hello World from sub API"}
    """,
    # The sub-project is scanned when the main app is made: `fastapi-route build` builds the
    # main project's cache only.
    "app.py": """
        from pathlib import Path

        import fastapi_route


        def configure(app):
            sub = fastapi_route.create_app(Path(__file__).parent / "subapi", source="scan")
            app.mount("/subapi", sub)
    """,
}


@pytest.mark.parametrize("mode", PORT_MODES)
def test_a_sub_application_made_from_a_project(mode: str, tmp_path: Path) -> None:
    """The sub-application may itself be a project (`create_app` of its folder), mounted the
    same way: its routes, its docs and its document under the mount, as the tutorial's."""
    app = port_app(write_tree(tmp_path / "main", TREE_IN_TREE), mode)
    with TestClient(original_app(), follow_redirects=False) as original, \
            TestClient(app, follow_redirects=False) as ported:
        for method, url in REQUESTS:
            if "openapi" in url or "docs" in url or "redoc" in url:
                continue  # a document of our own naming, compared below
            assert answer(ported, method, url) == answer(original, method, url), url
        for page, document in (("/docs", "/openapi.json"),
                               ("/subapi/docs", "/subapi/openapi.json")):
            assert fetched_document(ported, page) == document
        want = original.get("/subapi/openapi.json").json()
        got = ported.get("/subapi/openapi.json").json()
        assert_same_meaning(want, got)
        assert got["servers"] == [{"url": "/subapi"}]
        assert list(ported.get("/openapi.json").json()["paths"]) == ["/app"]
