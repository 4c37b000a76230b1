"""The folder-name grammar and the precedence order, tested directly."""

from __future__ import annotations

import random

import pytest
from conftest import write_tree
from fastapi.testclient import TestClient

from fastapi_route.config import load_config
from fastapi_route.conventions import (
    Segment,
    SegmentError,
    SegmentKind,
    is_skipped_dir,
    parse_segment,
    path_pieces,
    piece_rank,
    precedence_key,
    shape_of,
    url_piece,
)
from fastapi_route.pipeline.build import compile_table
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app

SEVEN = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _handler(name: str, returns: str = "") -> str:
    says = returns or name
    return (f"def {name}(request):\n"
            f"    return JSONResponse({{'by': '{says}'}}, headers={{'x-by': '{says}'}})\n\n")


def test_route_files_and_methods(tmp_path):
    """Which files serve (route.py, index.py; not a helper such as routes.py or view.py), and
    which names are handlers (the seven upper-case methods; not `get`)."""
    head = "from fastapi_route import JSONResponse\n"
    root = write_tree(tmp_path, {
        "routes/every/route.py": head + "".join(_handler(m) for m in SEVEN),
        "routes/listing/index.py": head + "from .view import NAME\n" + _handler("GET", "index"),
        "routes/listing/view.py": head + "NAME = 'a helper'\n" + _handler("GET"),
        "routes/helpers/routes.py": head + _handler("GET"),
        "routes/helpers/view.py": head + _handler("GET"),
        "routes/lower/route.py": head + _handler("get"),
    })
    table = compile_table(root, load_config(root))
    assert sorted((r.method, r.path, r.file) for r in table.routes) == sorted(
        [(m, "/every", "routes/every/route.py") for m in SEVEN]
        + [("GET", "/listing", "routes/listing/index.py")]
    )
    assert [(w.code, w.file) for w in table.warnings] == [("NO_HANDLER", "routes/lower/route.py")]
    assert "found get, write GET" in table.warnings[0].hint

    with TestClient(create_app(Project(root), source="scan")) as client:
        for method in SEVEN:  # each answered by its own function, HEAD and OPTIONS included
            response = client.request(method, "/every")
            assert (response.status_code, response.headers["x-by"]) == (200, method), method
            assert response.content == (b"" if method == "HEAD" else
                                        f'{{"by":"{method}"}}'.encode())
        assert client.get("/listing").json() == {"by": "index"}
        for url in ("/helpers", "/helpers/routes", "/helpers/view", "/listing/view", "/lower"):
            assert client.get(url).status_code == 404, url


# --------------------------------------------------------------------------- parse_segment


@pytest.mark.parametrize(
    ("folder", "kind", "name"),
    [
        ("users", SegmentKind.STATIC, "users"),
        ("api-v2", SegmentKind.STATIC, "api-v2"),
        ("file.json", SegmentKind.STATIC, "file.json"),
        ("[user_id]", SegmentKind.PARAM, "user_id"),
        ("[_x1]", SegmentKind.PARAM, "_x1"),
        ("[...slug]", SegmentKind.CATCHALL, "slug"),
        ("[...rest_of_path]", SegmentKind.CATCHALL, "rest_of_path"),
        ("(auth)", SegmentKind.GROUP, "auth"),
        ("(marketing site)", SegmentKind.GROUP, "marketing site"),
    ],
)
def test_parse_segment_kinds(folder, kind, name):
    segment = parse_segment(folder)
    assert segment == Segment(kind, name)
    assert segment.is_dynamic is (kind in (SegmentKind.PARAM, SegmentKind.CATCHALL))


@pytest.mark.parametrize(
    ("folder", "words"),
    [
        ("[]", "empty parameter name"),
        ("[a b]", "not a Python identifier"),
        ("[1x]", "not a Python identifier"),
        ("[user-id]", "not a Python identifier"),
        ("[class]", "cannot be a handler argument"),
        ("[None]", "cannot be a handler argument"),
        ("[request]", "cannot be a handler argument"),
        ("[...]", "catch-all needs a name"),
        ("[...1x]", "not a Python identifier"),
        ("[...def]", "cannot be a handler argument"),
        ("[[id]]", "optional catch-all"),
        ("[[...]]", "optional catch-all"),
        ("[id=integer]", "not a segment type"),
        ("[id=]", "not a segment type"),
        ("{id}", "braces"),
        ("user{id}", "braces"),
        ("item[id]", "brackets must enclose"),
        ("[id]x", "brackets must enclose"),
        ("[id", "brackets must enclose"),
        ("id]", "brackets must enclose"),
        ("()", "group needs a name"),
        ("(  )", "group needs a name"),
    ],
)
def test_parse_segment_errors(folder, words):
    with pytest.raises(SegmentError) as info:
        parse_segment(folder)
    message = str(info.value)
    assert words in message
    assert f"'{folder}'" in message
    assert info.value.hint
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("folder", "skipped"),
    [
        ("_helpers", True),
        ("__pycache__", True),
        (".git", True),
        (".hidden", True),
        ("users", False),
        ("[id]", False),
        ("(group)", False),
        ("[...slug]", False),
    ],
)
def test_is_skipped_dir(folder, skipped):
    assert is_skipped_dir(folder) is skipped


# --------------------------------------------------------------------------- URL building


def test_url_piece():
    assert url_piece(Segment(SegmentKind.STATIC, "users")) == "users"
    assert url_piece(Segment(SegmentKind.PARAM, "user_id")) == "{user_id}"
    assert url_piece(Segment(SegmentKind.CATCHALL, "slug")) == "{slug:path}"


@pytest.mark.parametrize(
    ("folders", "path"),
    [
        ([], "/"),
        (["(auth)"], "/"),
        (["about"], "/about"),
        (["users", "[user_id]"], "/users/{user_id}"),
        (["docs", "[...slug]"], "/docs/{slug:path}"),
        (["(auth)", "login"], "/login"),
        (["(a)", "api", "(b)", "v1", "[id]"], "/api/v1/{id}"),
    ],
)
def test_url_path(folders, path):
    shape, errors = shape_of(folders)
    assert errors == [] and shape is not None and shape.path == path


def test_path_pieces():
    assert path_pieces("/") == []
    assert path_pieces("/users/{user_id}") == ["users", "{user_id}"]
    assert path_pieces("/docs/{slug:path}") == ["docs", "{slug:path}"]


def test_piece_rank():
    assert piece_rank("users") == 0
    assert piece_rank("{id:int}") == piece_rank("{id:uuid}") == piece_rank("{x:float}") == 1
    assert piece_rank("{user_id}") == 2
    assert piece_rank("{slug:path}") == 3


# --------------------------------------------------------------------------- precedence


EXPECTED_ORDER = [
    "/",
    "/about",
    "/docs/a/b",
    "/docs/intro",
    "/docs/{slug:path}",
    "/users",
    "/users/me",
    "/users/{user_id}",
    "/users/{user_id}/edit",
    "/users/{user_id}/{tab}",
    "/users/{user_id}/{rest:path}",
    "/users/{all:path}",
    "/{page}",
    "/{page}/info",
    "/{slug:path}",
]


def test_precedence_order_is_total_and_independent_of_input_order():
    for seed in range(20):
        shuffled = EXPECTED_ORDER[:]
        random.Random(seed).shuffle(shuffled)
        assert sorted(shuffled, key=precedence_key) == EXPECTED_ORDER


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/users/me", "/users/{user_id}"),  # static beats param
        ("/users/{user_id}", "/users/{all:path}"),  # param beats catch-all
        ("/users/me", "/users/{all:path}"),  # static beats catch-all
        ("/zzz", "/{a}"),  # static beats param whatever the names
        ("/{z}", "/{a:path}"),  # param beats catch-all whatever the names
        ("/users/{id}/~x", "/users/{id}/{y}"),  # '~' sorts after '{' in ASCII: rank first
        ("/a/{x}/b", "/a/{x}/{y}"),
        ("/docs/x/y/z", "/docs/{slug:path}"),  # a longer static path before the catch-all
        ("/a/{x}/{rest:path}", "/a/{all:path}"),
        ("/", "/{slug:path}"),
        ("/users", "/users/{user_id}"),
    ],
)
def test_precedence_pairs(first, second):
    assert precedence_key(first) < precedence_key(second)


def test_param_names_do_not_change_precedence():
    assert precedence_key("/users/{id}") == precedence_key("/users/{user_id}")
    assert precedence_key("/docs/{a:path}") == precedence_key("/docs/{b:path}")
    assert precedence_key("/users/me") != precedence_key("/users/you")
