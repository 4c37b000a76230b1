"""The folder-name grammar and the precedence order, tested directly."""

from __future__ import annotations

import random

import pytest

from fastapi_route.conventions import (
    HTTP_METHODS,
    ROUTE_FILES,
    Segment,
    SegmentError,
    SegmentKind,
    is_skipped_dir,
    parse_segment,
    path_pieces,
    piece_rank,
    precedence_key,
    url_path,
    url_piece,
)


def test_route_files_and_methods():
    assert set(ROUTE_FILES) == {"route.py", "index.py"}
    assert set(HTTP_METHODS) == {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


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
        ("[[...slug]]", "optional catch-all"),
        ("[[id]]", "optional catch-all"),
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
    assert url_path([parse_segment(f) for f in folders]) == path


def test_path_pieces():
    assert path_pieces("/") == []
    assert path_pieces("/users/{user_id}") == ["users", "{user_id}"]
    assert path_pieces("/docs/{slug:path}") == ["docs", "{slug:path}"]


def test_piece_rank():
    assert piece_rank("users") == 0
    assert piece_rank("{user_id}") == 1
    assert piece_rank("{slug:path}") == 2


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
