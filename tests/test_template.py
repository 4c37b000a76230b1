"""The URL template as a value: `conventions.Template` reads any Starlette template once."""

from __future__ import annotations

import pytest

from fastapi_route import conventions
from fastapi_route.conventions import Rank, Template, precedence_key
from fastapi_route.table import RouteEntry


def test_pieces_of_our_templates():
    t = Template.parse("/users/{user_id:int}/{rest:path}")
    assert [(p.text, p.rank, p.param) for p in t.pieces] == [
        ("users", Rank.STATIC, ""), ("{user_id:int}", Rank.TYPED, "user_id"),
        ("{rest:path}", Rank.CATCHALL, "rest"),
    ]
    assert [(name, kind.name) for name, kind in t.params] == [("user_id", "int"), ("rest", "path")]
    assert t.prefix == "/users/"
    assert t.openapi_path == "/users/{user_id}/{rest}"
    assert t.example == "/users/1/a/b"
    assert t.bounded
    assert Template.parse("/").pieces == () and Template.parse("/").prefix == "/"
    assert Template.parse("/about").prefix == "/about"


@pytest.mark.parametrize(
    ("path", "bounded"),
    [
        ("/files/{stem}.txt", True),  # text and a parameter: still one segment
        ("/files/{a}-{b:int}", True),
        ("/files/{p:path}.txt", False),  # a catch-all within text may take a "/"
        ("/files/{x:unknown}", False),  # a convertor the table does not know
        ("/files/{ü}", True),  # Starlette reads this as literal text
        ("relative", False),
    ],
)
def test_any_starlette_template(path, bounded):
    assert Template.parse(path).bounded is bounded


def test_literal_braces_are_static():
    assert Template.parse("/files/{ü}").pieces[1].rank is Rank.STATIC


def test_parsing_is_memoised_and_routes_share_it():
    a = RouteEntry("GET", "/users/{id}", "routes/users/[id]/route.py", 1, ("id",))
    b = a._replace(method="POST")
    assert a.template is b.template is Template.parse("/users/{id}", own=True)


def test_a_project_type_is_known_by_name_in_a_route_files_template():
    # An app's own convertor stays unknown (unbounded); in a route file's template the same
    # name is a project type (SPEC 14.1): typed, one segment, after the built-in typed ones.
    assert not Template.parse("/c/{color:hex}").bounded
    own = Template.parse("/c/{color:hex}", own=True)
    assert own.bounded and own.pieces[1].rank is Rank.TYPED
    assert conventions.parse_segment("[color=hex]", {"hex"}).type == "hex"
    with pytest.raises(conventions.SegmentError, match="hex"):
        conventions.parse_segment("[color=hex]")
    assert precedence_key("/c/{x:float}") < precedence_key("/c/{color:hex}") < precedence_key(
        "/c/{color:rgb}") < precedence_key("/c/{name}")
