"""SPEC 9 parity: FastAPI's "Behind a Proxy" tutorial against its port, examples/behind_a_proxy.

The tutorial's main path: a proxy strips a path prefix (`/api/v1`) and the server is started
with that prefix as its root path (`uvicorn --root-path /api/v1`, `fastapi run --root-path`),
which reaches every request as the ASGI scope's `root_path`; the app is written without it.
In process, TestClient's `root_path=` plays the server, in every mode the runtime builds an
app (parity.PORT_MODES): the same answers, the document's `servers` and the docs page that
fetches the document under the prefix. End to end (slow): real uvicorn processes on loopback,
started with `--root-path`, one serving the tutorial's app and one the port through
`fastapi_route.asgi:app`, plus `fastapi-route run` on the example (its config.py says
`server = {"root_path": ...}`), answer alike, redirects behind the proxy included (the
scheme from X-Forwarded-Proto).

Left out: `FastAPI(root_path=...)`, `servers=` and `root_path_in_servers=` (the tutorial's
later sections), which a project is to say through config.py's `fastapi = {...}` (SPEC 12.3),
a setting not part of this port.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_example
from fastapi import FastAPI, Request
from parity import PORT_MODES, assert_same_meaning, normal_path, port_app
from servers import Server, run_args, run_cli, start_server

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "behind_a_proxy"
ROOT_PATH = "/api/v1"

# The tutorial's app, as a module a server imports (the end-to-end test writes it to a file).
ORIGINAL_SOURCE = '''
from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/app")
def read_main(request: Request):
    return {"message": "Hello World", "root_path": request.scope.get("root_path")}


@app.get("/items/")
def read_items():
    return ["plumbus", "portal gun"]
'''


def original_app() -> FastAPI:
    app = FastAPI()

    @app.get("/app")
    def read_main(request: Request) -> Any:
        return {"message": "Hello World", "root_path": request.scope.get("root_path")}

    @app.get("/items/")
    def read_items() -> Any:
        return ["plumbus", "portal gun"]

    return app


@pytest.fixture(scope="module")
def original() -> Iterator[TestClient]:
    with TestClient(original_app(), root_path=ROOT_PATH, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module", params=PORT_MODES)
def ported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[TestClient]:
    root = copy_example(EXAMPLE, tmp_path_factory.mktemp(f"proxy-{request.param}"))
    app = port_app(root, request.param)
    with TestClient(app, root_path=ROOT_PATH, follow_redirects=False) as client:
        yield client


def answer(client: TestClient, url: str) -> tuple[int, Any]:
    response = client.get(url)
    return response.status_code, response.json()


# A server with a root path puts it in front of the path (uvicorn since 0.26: the ASGI spec's
# `path` is the full one), the request to `/app` arrives as `/api/v1/app`; TestClient passes
# the path as given. Both are asked, of both apps.
@pytest.mark.parametrize("url", ["/app", f"{ROOT_PATH}/app", "/nowhere", f"{ROOT_PATH}/nowhere",
                                 "/app?x=1"])
def test_same_answers(original: TestClient, ported: TestClient, url: str) -> None:
    want = answer(original, url)
    assert answer(ported, url) == want
    if "/app" in url:  # the yardstick: the app learns the prefix from the scope
        assert want == (200, {"message": "Hello World", "root_path": ROOT_PATH})


def test_the_trailing_slash_is_the_other_way_round(original: TestClient,
                                                   ported: TestClient) -> None:
    """A route file's URL has no trailing slash: the tutorial's `/items/` is `/items`, and it
    is the other spelling that redirects, to the same place relative to the root path."""
    assert answer(original, f"{ROOT_PATH}/items/") == (200, ["plumbus", "portal gun"])
    assert answer(ported, f"{ROOT_PATH}/items") == (200, ["plumbus", "portal gun"])
    theirs = original.get(f"{ROOT_PATH}/items")
    ours = ported.get(f"{ROOT_PATH}/items/")
    assert (theirs.status_code, ours.status_code) == (307, 307)
    assert theirs.headers["location"] == f"http://testserver{ROOT_PATH}/items/"
    assert ours.headers["location"] == f"http://testserver{ROOT_PATH}/items"


def test_the_document_names_the_root_path_as_its_server(original: TestClient,
                                                        ported: TestClient) -> None:
    want = original.get("/openapi.json").json()
    got = ported.get("/openapi.json").json()
    assert_same_meaning(want, got)
    assert got["servers"] == want["servers"] == [{"url": ROOT_PATH}]
    # Asked again (the port's first answer made the document): still one server.
    assert ported.get("/openapi.json").json()["servers"] == [{"url": ROOT_PATH}]


def openapi_url_of_docs(client: TestClient) -> str:
    """The URL Swagger UI's page fetches the document from."""
    page = client.get("/docs")
    assert page.status_code == 200
    found = re.search(r"url: '([^']*)'", page.text)
    assert found, page.text
    return found.group(1)


def test_the_docs_page_fetches_the_document_under_the_root_path(
    original: TestClient, ported: TestClient
) -> None:
    assert openapi_url_of_docs(ported) == openapi_url_of_docs(original) == \
        f"{ROOT_PATH}/openapi.json"


# --- end to end: uvicorn with --root-path, and fastapi-route run ------------------------------


def json_of(body: bytes) -> Any:
    return json.loads(body.decode())


def conversation(server: Server, items: str) -> dict[str, Any]:
    """What a proxy that strips `/api/v1` would get from the server (`items`: the items
    route's own spelling), and what comes of the prefix left on."""
    seen: dict[str, Any] = {}
    status, _, body = server.get("/app")
    seen["app"] = (status, json_of(body))
    seen["prefix left on"] = server.get(f"{ROOT_PATH}/app")[0]
    status, _, body = server.get(items)
    seen["items"] = (status, json_of(body))
    # The other spelling redirects; the client's scheme comes from the proxy's header
    # (uvicorn trusts it from 127.0.0.1 by default), the prefix from the root path.
    other = items.rstrip("/") if items.endswith("/") else items + "/"
    status, headers, _ = server.request("GET", other, headers={"X-Forwarded-Proto": "https"})
    seen["redirect"] = (status, headers.get("location", "").replace(str(server.port), "PORT"))
    status, _, body = server.get("/openapi.json")
    document = json_of(body)
    seen["servers"] = document.get("servers")
    seen["paths"] = sorted(normal_path(p) for p in document["paths"])
    status, _, body = server.get("/docs")
    found = re.search(r"url: '([^']*)'", body.decode())
    seen["docs fetch"] = found.group(1) if found else body.decode()
    return seen


def expected(items: str) -> dict[str, Any]:
    return {
        "app": (200, {"message": "Hello World", "root_path": ROOT_PATH}),
        "prefix left on": 404,
        "items": (200, ["plumbus", "portal gun"]),
        "redirect": (307, f"https://127.0.0.1:PORT{ROOT_PATH}{items}"),
        "servers": [{"url": ROOT_PATH}],
        "paths": ["/app", "/items"],
        "docs fetch": f"{ROOT_PATH}/openapi.json",
    }


@pytest.mark.slow
def test_real_servers_with_a_root_path(tmp_path: Path) -> None:
    (tmp_path / "tutorial").mkdir()
    (tmp_path / "tutorial" / "main.py").write_text(ORIGINAL_SOURCE)
    root = copy_example(EXAMPLE, tmp_path)
    built = run_cli(["build", "--project", str(root)], cwd=tmp_path)
    assert built.returncode == 0, built.stdout
    uvicorn = ["uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--root-path", ROOT_PATH]

    with start_server([*uvicorn, "main:app"], cwd=tmp_path / "tutorial",
                      ready_path="/app") as server:
        tutorial = conversation(server, "/items/")
    assert tutorial == expected("/items/")  # the yardstick

    with start_server([*uvicorn, "fastapi_route.asgi:app"], cwd=tmp_path, ready_path="/app",
                      env={"FASTAPI_ROUTE_PROJECT": str(root)}) as server:
        assert conversation(server, "/items") == expected("/items")

    # fastapi-route's own server: the example's config.py says `server = {"root_path": ...}`,
    # which `run` hands to uvicorn as it is.
    with start_server(run_args(root), cwd=tmp_path, ready_path="/app") as server:
        assert conversation(server, "/items") == expected("/items")
