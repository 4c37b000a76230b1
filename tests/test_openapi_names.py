"""SPEC 9, "OpenAPI that reads as if written by hand", on real trees.

operationId is lower snake case from the method and the URL words (`get_users_user_id`,
`post_items`, `get_root` for `/`), unique in the app, settable with `@route(operation_id=...)`;
summary is the docstring's first line, else `GET /users/{user_id}`; description is the rest of
the docstring. The document is the same in eager and lazy mode and from a built cache, and
`url_for` finds a route by its operation id.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import pytest
from conftest import app_in_mode, write_tree
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fastapi_route.config import load_config
from fastapi_route.errors import BuildFailed
from fastapi_route.pipeline.build import compile_table

MODES = ["eager", "lazy", "cache", "cache-lazy"]

TREE = {
    "routes/index.py": """
        def GET(request):
            return {}
    """,
    "routes/users/route.py": """
        def GET(request):
            '''List the users.

            Every user, oldest first.
            Paged by nobody.
            '''
            return []

        def POST(request, body: dict):
            '''Create a user.'''
            return body, 201
    """,
    "routes/users/[user_id]/route.py": """
        from fastapi_route import route


        def GET(request, user_id: int):
            return {"user_id": user_id, "self": str(request.url_for("get_users_user_id",
                                                                    user_id=user_id))}

        @route(operation_id="remove_user")
        def DELETE(request, user_id: int):
            return None

        @route(summary="Replace a user", description="All of it.")
        def PUT(request, user_id: int):
            '''Ignored summary.

            Ignored description.
            '''
            return {}
    """,
    "routes/items/route.py": """
        async def POST(request):
            return {}, 201
    """,
    "routes/docs-files/[...slug]/route.py": """
        def GET(request, slug: list[str]):
            return slug
    """,
    "routes/a-b/route.py": """
        def GET(request):
            return {}
    """,
    "routes/a_b/route.py": """
        def GET(request):
            return {}
    """,
    "routes/A.B/route.py": """
        def GET(request):
            return {}
    """,
    "routes/(grp)/shop/[shop_id]/items/route.py": """
        def PATCH(request, shop_id: str):
            return {}
    """,
    "routes/links/route.py": """
        def GET(request):
            return {"user": str(request.url_for("get_users_user_id", user_id=9)),
                    "removal": str(request.url_for("remove_user", user_id=3)),
                    "items": request.app.url_path_for("post_items")}
    """,
    "routes/chat/route.py": """
        async def WEBSOCKET(websocket):
            await websocket.accept()
            await websocket.close()
    """,
}


def spec_of(app: FastAPI) -> dict[str, Any]:
    client = TestClient(app)  # (outside the filter: old Starlette's client warns on httpx)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Dd]uplicate [Oo]peration ID")
        return client.get("/openapi.json").json()  # type: ignore[no-any-return]


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, item in spec["paths"].items()
            for method, op in item.items()}


@pytest.fixture(params=MODES)
def spec(request, tmp_path) -> dict[str, Any]:
    return spec_of(app_in_mode(write_tree(tmp_path / "app", TREE), request.param))


def test_operation_ids_from_method_and_url_words(spec):
    ids = {key: op["operationId"] for key, op in operations(spec).items()}
    assert ids[("get", "/")] == "get_root"
    assert ids[("get", "/users")] == "get_users"
    assert ids[("post", "/users")] == "post_users"
    assert ids[("get", "/users/{user_id}")] == "get_users_user_id"
    assert ids[("put", "/users/{user_id}")] == "put_users_user_id"
    assert ids[("post", "/items")] == "post_items"
    assert ids[("get", "/docs-files/{slug}")] == "get_docs_files_slug"
    assert ids[("patch", "/shop/{shop_id}/items")] == "patch_shop_shop_id_items"
    assert ids[("get", "/links")] == "get_links"


def test_operation_ids_are_unique_colliding_words_get_a_suffix(spec):
    ids = [op["operationId"] for op in operations(spec).values()]
    assert len(ids) == len(set(ids))
    colliding = sorted(op["operationId"] for (method, path), op in operations(spec).items()
                       if path in ("/a-b", "/a_b", "/A.B"))
    assert colliding == ["get_a_b", "get_a_b_2", "get_a_b_3"]


def test_operation_id_set_with_route(spec):
    assert operations(spec)[("delete", "/users/{user_id}")]["operationId"] == "remove_user"


def test_summary_is_the_docstrings_first_line_else_method_and_url(spec):
    ops = operations(spec)
    assert ops[("get", "/users")]["summary"] == "List the users."
    assert ops[("post", "/users")]["summary"] == "Create a user."
    assert ops[("get", "/users/{user_id}")]["summary"] == "GET /users/{user_id}"
    assert ops[("get", "/")]["summary"] == "GET /"
    assert ops[("patch", "/shop/{shop_id}/items")]["summary"] == "PATCH /shop/{shop_id}/items"
    assert ops[("put", "/users/{user_id}")]["summary"] == "Replace a user"  # @route wins


def test_a_catch_alls_summary_is_the_url_template_of_the_document(spec):
    """The document's path is `/docs-files/{slug}` (FastAPI drops the `:path` convertor); a
    summary "as if written by hand" names that template, not Starlette's internal one."""
    ops = operations(spec)
    assert ops[("get", "/docs-files/{slug}")]["summary"] == "GET /docs-files/{slug}"


def test_description_is_the_rest_of_the_docstring(spec):
    ops = operations(spec)
    assert ops[("get", "/users")]["description"] == "Every user, oldest first.\nPaged by nobody."
    assert ops[("post", "/users")].get("description", "") == ""  # a one-line docstring
    assert ops[("get", "/")].get("description", "") == ""  # no docstring
    assert ops[("put", "/users/{user_id}")]["description"] == "All of it."  # @route wins


def test_websockets_are_not_operations(spec):
    assert "/chat" not in spec["paths"]


def test_the_document_is_identical_in_every_mode(tmp_path):
    root = write_tree(tmp_path / "app", TREE)
    documents = [spec_of(app_in_mode(root, mode)) for mode in MODES]
    assert all(document == documents[0] for document in documents)


@pytest.mark.parametrize("mode", MODES)
def test_url_for_by_operation_id_inside_a_handler(tmp_path, mode):
    client = TestClient(app_in_mode(write_tree(tmp_path / "app", TREE), mode))
    assert client.get("/users/5").json() == {"user_id": 5,
                                             "self": "http://testserver/users/5"}
    assert client.get("/links").json() == {
        "user": "http://testserver/users/9",
        "removal": "http://testserver/users/3",
        "items": "/items",
    }


def test_an_explicit_operation_id_that_another_route_has_fails_the_build(tmp_path):
    """`@route(operation_id="get_users")` on another route would put one operationId twice in
    the document (FastAPI only warns): the build refuses it, at the decorator's handler."""
    root = write_tree(tmp_path / "app", {
        "routes/users/route.py": "def GET(request):\n    return []\n",
        "routes/people/route.py": """
            from fastapi_route import route


            @route(operation_id="get_users")
            def GET(request):
                return []
        """,
        "routes/staff/route.py": """
            from fastapi_route import route


            @route(operation_id="get_users")
            def GET(request):
                return []
        """,
    })
    with pytest.raises(BuildFailed) as failed:
        compile_table(root, load_config(root))
    found = sorted((p.code, p.location) for p in failed.value.problems)
    assert found == [("DUPLICATE_OPERATION_ID", "routes/people/route.py:5"),
                     ("DUPLICATE_OPERATION_ID", "routes/staff/route.py:5")]
    assert "GET /users (routes/users/route.py)" in str(failed.value)


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_an_explicit_operation_id_not_taken_is_kept(tmp_path, mode):
    root = write_tree(tmp_path / "app", {
        "routes/users/route.py": "def GET(request):\n    return []\n",
        "routes/people/route.py": """
            from fastapi_route import route


            @route(operation_id="list_people")
            def GET(request):
                return []
        """,
    })
    document = TestClient(app_in_mode(root, mode)).get("/openapi.json").json()
    counts = Counter(op["operationId"] for op in operations(document).values())
    assert operations(document)[("get", "/people")]["operationId"] == "list_people"
    assert max(counts.values()) == 1, counts
