"""What a handler returns is what OpenAPI documents (issue 17, part 9).

SPEC 2: `None` answers 204 and `(body, 202)` answers 202. The build reads each handler without
a return annotation and records the statuses its returns show (`return None`, a bare `return`
or an end it can reach: 204; `return body, 202` with an int literal: 202; anything else: the
default 200); registration documents them (`status_code=` when no return can be a 200,
`responses=` for the others). An explicit `@route(status_code=...)` or return annotation is
left as it is. The statuses travel in the cache's route records (format 4).
"""

from __future__ import annotations

import ast
import hashlib
import json
import pickle
import textwrap
import zlib
from pathlib import Path
from typing import Any

import pytest
from conftest import app_in_mode, write_tree
from fastapi.testclient import TestClient

from fastapi_route.config import load_config
from fastapi_route.errors import CacheError
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline.build import build
from fastapi_route.pipeline.manifest import FORMAT_VERSION
from fastapi_route.pipeline.scan import returned_statuses
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app

MODES = ["eager", "lazy", "cache", "cache-lazy"]


def statuses(source: str) -> tuple[int, ...]:
    node = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    return returned_statuses(node)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def GET(request):\n    return {}\n", ()),
        ("def GET(request):\n    return None\n", (204,)),
        ("def GET(request):\n    return\n", (204,)),
        ("def GET(request):\n    pass\n", (204,)),
        ("async def GET(request):\n    await request.body()\n", (204,)),
        ("def GET(request):\n    return {'a': 1}, 202\n", (202,)),
        ("def GET(request):\n    return ({'a': 1}, 201, {'X-A': 'b'})\n", (201,)),
        ("def GET(request):\n    body = 1\n    return body, 202\n", (202,)),
        # A status the source does not show is FastAPI's default, as today.
        ("def GET(request):\n    s = 202\n    return {}, s\n", ()),
        ("def GET(request):\n    return make()\n", ()),
        # Mixed: each status shown.
        ("def GET(request, x: int):\n    if x:\n        return {}\n    return {}, 202\n",
         (200, 202)),
        ("def GET(request, x: int):\n    if x:\n        return None\n    return {}, 202\n",
         (202, 204)),
        ("def GET(request, x: int):\n    if x:\n        return {}\n", (200, 204)),
        # Every path returns or raises: no 204 from the end.
        ("def GET(request, x: int):\n    if x:\n        return {}\n    else:\n"
         "        raise ValueError\n", ()),
        ("def GET(request):\n    try:\n        return {}\n    except KeyError:\n"
         "        raise ValueError\n", ()),
        ("def GET(request):\n    with x:\n        return {}, 201\n", (201,)),
        ("def GET(request):\n    while True:\n        return {}\n", ()),
        ("def GET(request):\n    while True:\n        break\n", (204,)),
        ("def GET(request, x: int):\n    match x:\n        case 1:\n            return {}\n"
         "        case _:\n            return {}, 201\n", (200, 201)),
        ("def GET(request, x: int):\n    match x:\n        case 1:\n            return {}\n",
         (200, 204)),
        # Returns of nested functions are not the handler's; a generator says nothing.
        ("def GET(request):\n    def inner():\n        return None\n    return {}\n", ()),
        ("def GET(request):\n    f = lambda: None\n    return {}, 202\n", (202,)),
        ("def GET(request):\n    yield {}\n", ()),
    ],
)
def test_the_statuses_a_handlers_returns_show(source: str, expected: tuple[int, ...]) -> None:
    assert statuses(source) == expected


TREE = {
    "routes/plain/route.py": """
        def GET(request):
            return {"a": 1}
    """,
    "routes/nothing/route.py": """
        def DELETE(request):
            return None

        def PUT(request):
            print("saved")

        def PATCH(request):
            return
    """,
    "routes/accepted/route.py": """
        def POST(request):
            body = {"queued": True}
            return body, 202

        def PUT(request):
            return {"queued": True}, 202, {"Location": "/jobs/1"}
    """,
    "routes/mixed/route.py": """
        def GET(request, fresh: bool = False):
            if fresh:
                return {"a": 1}
            return {"a": 0}, 202

        def POST(request, fresh: bool = False):
            if fresh:
                return None
            return {"a": 0}, 201
    """,
    "routes/explicit/route.py": """
        from fastapi_route import route

        @route(status_code=201)
        def POST(request):
            return {"a": 1}

        def PUT(request) -> dict:
            return None

        @route(responses={202: {"description": "Queued for later"}})
        def PATCH(request, later: bool = False):
            if later:
                return {}, 202
            return {}
    """,
}


def responses(app: Any, path: str, method: str) -> dict[str, Any]:
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
    found: dict[str, Any] = document["paths"][path][method]["responses"]
    return found


@pytest.mark.parametrize("mode", MODES)
def test_openapi_documents_the_status_each_handler_answers(tmp_path: Path, mode: str) -> None:
    root = write_tree(tmp_path / "app", TREE)
    app = app_in_mode(root, mode)
    codes = {
        (path, method): sorted(responses(app, path, method))
        for path, method in [
            ("/plain", "get"), ("/nothing", "delete"), ("/nothing", "put"),
            ("/nothing", "patch"), ("/accepted", "post"), ("/accepted", "put"),
            ("/mixed", "get"), ("/mixed", "post"), ("/explicit", "post"),
            ("/explicit", "put"), ("/explicit", "patch"),
        ]
    }
    assert codes == {
        ("/plain", "get"): ["200"],
        ("/nothing", "delete"): ["204"],
        ("/nothing", "put"): ["204"],
        ("/nothing", "patch"): ["204"],
        ("/accepted", "post"): ["202"],
        ("/accepted", "put"): ["202"],
        ("/mixed", "get"): ["200", "202", "422"],
        ("/mixed", "post"): ["201", "204", "422"],
        # The author's word stands: @route(status_code=...), an annotation.
        ("/explicit", "post"): ["201"],
        ("/explicit", "put"): ["200"],
        ("/explicit", "patch"): ["200", "202", "422"],
    }
    # A documented body keeps a content entry; 204 has none; @route's description wins.
    assert "content" in responses(app, "/mixed", "get")["202"]
    assert "content" not in responses(app, "/mixed", "post")["204"]
    assert responses(app, "/explicit", "patch")["202"]["description"] == "Queued for later"


@pytest.mark.parametrize("mode", ["eager", "cache"])
def test_the_answers_are_what_they_were(tmp_path: Path, mode: str) -> None:
    """Documenting changes no answer: status_code is only set where every return is one the
    endpoint turns into a response itself."""
    root = write_tree(tmp_path / "app", TREE)
    with TestClient(app_in_mode(root, mode)) as client:
        assert client.get("/plain").status_code == 200
        assert client.delete("/nothing").status_code == 204
        assert client.put("/nothing").status_code == 204
        assert client.post("/accepted").status_code == 202
        answer = client.put("/accepted")
        assert (answer.status_code, answer.headers["location"]) == (202, "/jobs/1")
        assert client.get("/mixed", params={"fresh": True}).status_code == 200
        assert client.get("/mixed").status_code == 202
        assert client.post("/mixed", params={"fresh": True}).status_code == 204
        assert client.post("/mixed").status_code == 201
        assert client.post("/explicit").status_code == 201


def test_the_cache_records_the_statuses(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", TREE)
    build(root, load_config(root))
    table = {(r.method, r.path): r.statuses for r in cache_io.load(root / ".cache").routes}
    assert table[("POST", "/mixed")] == (201, 204)
    assert table[("GET", "/plain")] == ()
    assert table[("PUT", "/explicit")] == ()  # annotated: the annotation speaks


def test_a_cache_of_the_previous_format_asks_for_a_rebuild(tmp_path: Path) -> None:
    """Format 2's records had no statuses: a 0.4 cache built before this change is refused
    with the words to mend it, not misread."""
    root = write_tree(tmp_path / "app", TREE)
    build(root, load_config(root))
    manifest_path = root / ".cache" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    data = pickle.loads(zlib.decompress((root / ".cache" / "routes.dat").read_bytes()))
    old = pickle.dumps({"format_version": 2, "routes": [r[:7] for r in data["routes"]]},
                       protocol=4)
    packed = zlib.compress(old)
    (root / ".cache" / "routes.dat").write_bytes(packed)

    manifest.update(format_version=2, routes_sha256=hashlib.sha256(packed).hexdigest())
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(CacheError) as caught:
        create_app(Project(root))
    text = str(caught.value) + " " + str(caught.value.hint)
    assert "format 2" in text and f"format {FORMAT_VERSION}" in text
    assert "fastapi-route build" in text
