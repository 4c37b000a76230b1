"""SPEC 9 parity: FastAPI's "Bigger Applications" tutorial against its file-tree port.

`original_app()` builds the tutorial's design as a plain FastAPI app (an app-wide query-token
dependency; a users router; an items router with a prefix, tags, a header-token dependency and
a 404 response; an admin router included with a prefix, tags, a dependency and a 418 response).
`examples/bigger_app/` says the same with folders, `_layout.py` files and `@route(...)`.
Every interaction of the tutorial must get the same status and body from both apps, in every
way the runtime can build the app, and both `/openapi.json` documents must mean the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pytest
from conftest import app_in_mode, copy_example
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from parity import assert_same_meaning, expected_operation_id, normal_path, openapi_meaning

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bigger_app"

SECRET = {"X-Token": "fake-super-secret-token"}
BAD_SECRET = {"X-Token": "invalid"}
ITEMS = {"plumbus": {"name": "Plumbus"}, "gun": {"name": "Portal Gun"}}


def original_app() -> FastAPI:
    """The tutorial's design, written as FastAPI routers (the yardstick)."""

    async def get_token_header(x_token: Annotated[str, Header()]) -> None:
        if x_token != "fake-super-secret-token":
            raise HTTPException(status_code=400, detail="X-Token header invalid")

    async def get_query_token(token: str) -> None:
        if token != "jessica":
            raise HTTPException(status_code=400, detail="No Jessica token provided")

    users = APIRouter()

    @users.get("/users/", tags=["users"])
    async def read_users():
        return [{"username": "Rick"}, {"username": "Morty"}]

    @users.get("/users/me", tags=["users"])
    async def read_user_me():
        return {"username": "fakecurrentuser"}

    @users.get("/users/{username}", tags=["users"])
    async def read_user(username: str):
        return {"username": username}

    items = APIRouter(
        prefix="/items",
        tags=["items"],
        dependencies=[Depends(get_token_header)],
        responses={404: {"description": "Not found"}},
    )

    @items.get("/")
    async def read_items():
        return ITEMS

    @items.get("/{item_id}")
    async def read_item(item_id: str):
        if item_id not in ITEMS:
            raise HTTPException(status_code=404, detail="Item not found")
        return {"name": ITEMS[item_id]["name"], "item_id": item_id}

    @items.put(
        "/{item_id}", tags=["custom"], responses={403: {"description": "Operation forbidden"}}
    )
    async def update_item(item_id: str):
        if item_id != "plumbus":
            raise HTTPException(status_code=403, detail="You can only update the item: plumbus")
        return {"item_id": item_id, "name": "The great Plumbus"}

    admin = APIRouter()

    @admin.post("/")
    async def update_admin():
        return {"message": "Admin getting schwifty"}

    app = FastAPI(dependencies=[Depends(get_query_token)])
    app.include_router(users)
    app.include_router(items)
    app.include_router(
        admin,
        prefix="/admin",
        tags=["admin"],
        dependencies=[Depends(get_token_header)],
        responses={418: {"description": "I'm a teapot"}},
    )

    @app.get("/")
    async def root():
        return {"message": "Hello Bigger Applications!"}

    return app


# How the runtime can build the port: `dev` (scan, eager), a lazy scan, and `run --lazy`
# (from the cache, which records the layouts of each route).
MODES = ["eager", "lazy", "cache-lazy"]  # see conftest.app_in_mode


@pytest.fixture(scope="module")
def original() -> Iterator[TestClient]:
    with TestClient(original_app()) as client:
        yield client


@pytest.fixture(scope="module", params=sorted(MODES))
def ported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[TestClient]:
    root = copy_example(EXAMPLE, tmp_path_factory.mktemp(f"bigger-{request.param}"))
    with TestClient(app_in_mode(root, request.param)) as client:
        yield client


def missing(where: str, name: str) -> dict[str, Any]:
    """One entry of a 422's `detail`: a required parameter that the request lacks."""
    return {"type": "missing", "loc": [where, name], "msg": "Field required", "input": None}


NO_TOKEN = {"detail": [missing("query", "token")]}
NO_HEADER = {"detail": [missing("header", "x-token")]}
# App-wide dependency first, then the router's: FastAPI's order, hence layouts' outer → inner.
NEITHER = {"detail": [missing("query", "token"), missing("header", "x-token")]}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


CASES = [
    # The app-wide query token, on the users routes and the root.
    Case("users", "GET", "/users?token=jessica", 200,
         [{"username": "Rick"}, {"username": "Morty"}]),
    Case("users-no-token", "GET", "/users", 422, NO_TOKEN),
    Case("users-wrong-token", "GET", "/users?token=monica", 400,
         {"detail": "No Jessica token provided"}),
    Case("user", "GET", "/users/foo?token=jessica", 200, {"username": "foo"}),
    Case("user-no-token", "GET", "/users/foo", 422, NO_TOKEN),
    Case("users-me", "GET", "/users/me?token=jessica", 200, {"username": "fakecurrentuser"}),
    Case("users-me-no-token", "GET", "/users/me", 422, NO_TOKEN),
    Case("root", "GET", "/?token=jessica", 200, {"message": "Hello Bigger Applications!"}),
    Case("root-no-token", "GET", "/", 422, NO_TOKEN),
    # The items router: both tokens.
    Case("items", "GET", "/items?token=jessica", 200, ITEMS, SECRET),
    Case("items-no-token", "GET", "/items", 422, NO_TOKEN, SECRET),
    Case("items-no-header", "GET", "/items?token=jessica", 422, NO_HEADER),
    Case("items-neither", "GET", "/items", 422, NEITHER),
    Case("items-bad-header", "GET", "/items?token=jessica", 400,
         {"detail": "X-Token header invalid"}, BAD_SECRET),
    Case("item", "GET", "/items/plumbus?token=jessica", 200,
         {"name": "Plumbus", "item_id": "plumbus"}, SECRET),
    Case("item-unknown", "GET", "/items/bar?token=jessica", 404, {"detail": "Item not found"},
         SECRET),
    Case("item-no-token", "GET", "/items/plumbus", 422, NO_TOKEN, SECRET),
    Case("item-no-header", "GET", "/items/plumbus?token=jessica", 422, NO_HEADER),
    Case("item-bad-header", "GET", "/items/bar?token=jessica", 400,
         {"detail": "X-Token header invalid"}, BAD_SECRET),
    # The PUT of the items router.
    Case("put-neither", "PUT", "/items/foo", 422, NEITHER),
    # A missing token is a 422 only if every dependency could run: the header check raises first.
    Case("put-bad-header", "PUT", "/items/foo", 400, {"detail": "X-Token header invalid"},
         BAD_SECRET),
    Case("put", "PUT", "/items/plumbus?token=jessica", 200,
         {"item_id": "plumbus", "name": "The great Plumbus"}, SECRET),
    Case("put-forbidden", "PUT", "/items/bar?token=jessica", 403,
         {"detail": "You can only update the item: plumbus"}, SECRET),
    # The admin router, included with its own prefix, tags, dependency and responses.
    Case("admin", "POST", "/admin/?token=jessica", 200, {"message": "Admin getting schwifty"},
         SECRET),
    Case("admin-bad-header", "POST", "/admin/", 400, {"detail": "X-Token header invalid"},
         BAD_SECRET),
    Case("admin-no-header", "POST", "/admin?token=jessica", 422, NO_HEADER),
    Case("admin-neither", "POST", "/admin", 422, NEITHER),
    # Outside every route: no dependency runs.
    Case("unknown-path", "GET", "/nowhere", 404, {"detail": "Not Found"}),
    Case("wrong-method", "DELETE", "/items/plumbus?token=jessica", 405,
         {"detail": "Method Not Allowed"}, SECRET),
]


def answer(client: TestClient, case: Case) -> tuple[int, Any]:
    response = client.request(case.method, case.url, headers=case.headers)
    body = response.json()
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        for error in body["detail"]:  # older FastAPI releases add pydantic's docs URL
            error.pop("url", None)
    return response.status_code, body


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_answers(original: TestClient, ported: TestClient, case: Case) -> None:
    assert answer(original, case) == (case.status, case.body), "the yardstick itself"
    assert answer(ported, case) == (case.status, case.body)


@pytest.mark.parametrize("url", ["/openapi.json", "/docs"])
def test_docs_need_no_token(original: TestClient, ported: TestClient, url: str) -> None:
    """An app's dependencies leave its docs alone; so do the root layout's (SPEC 9)."""
    assert original.get(url).status_code == 200
    assert ported.get(url).status_code == 200


def test_openapi_means_the_same(original: TestClient, ported: TestClient) -> None:
    assert_same_meaning(original.get("/openapi.json").json(), ported.get("/openapi.json").json())


def test_openapi_carries_the_layouts(original: TestClient, ported: TestClient) -> None:
    """What the comparison above covers, spelled out on the port (and on the yardstick)."""
    for client in (original, ported):
        paths = openapi_meaning(client.get("/openapi.json").json())["paths"]
        put = paths["/items/{item_id}"]["put"]
        assert put["tags"] == ["items", "custom"]
        assert set(put["responses"]) == {"200", "403", "404", "422"}
        assert ("token", "query", True, "string") in put["parameters"]
        assert ("x-token", "header", True, "string") in put["parameters"]
        admin = paths["/admin"]["post"]
        assert admin["tags"] == ["admin"]
        assert admin["responses"]["418"]["description"] == "I'm a teapot"
        assert paths["/users/me"]["get"]["parameters"] == [("token", "query", True, "string")]


def test_operation_ids_are_spec_9s(ported: TestClient) -> None:
    """Not FastAPI's `read_item_items__item_id__get`: lower snake from method and URL words."""
    schema = ported.get("/openapi.json").json()
    ids = {
        (method.upper(), normal_path(path)): operation["operationId"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    assert len(set(ids.values())) == len(ids), ids
    root = ids.pop(("GET", "/"))
    assert root.startswith("get"), root
    assert ids == {key: expected_operation_id(*key) for key in ids}
    assert ids[("GET", "/items/{item_id}")] == "get_items_item_id"
    assert ids[("POST", "/admin")] == "post_admin"


def test_summaries_and_descriptions_from_docstrings(ported: TestClient) -> None:
    paths = ported.get("/openapi.json").json()["paths"]
    item = paths["/items/{item_id}"]["get"]
    assert item["summary"] == "Read one item."
    assert item["description"] == "Answers 404 for an item that does not exist."
    assert paths["/items/{item_id}"]["put"]["summary"] == (
        "Update an item (only the plumbus can be updated)."
    )
    assert paths["/items/{item_id}"]["put"].get("description", "") == ""
    me = paths["/users/me"]["get"]  # no docstring: the method and the URL template
    assert me["summary"] == "GET /users/me"
    assert me.get("description", "") == ""
