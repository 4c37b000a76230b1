"""The URL template as a value: `conventions.Template` reads any Starlette template once."""

from __future__ import annotations

import pytest

from fastapi_route import conventions
from fastapi_route.conventions import Rank, SegmentType, Template, add_segment_type, precedence_key
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
    assert a.template is b.template is Template.parse("/users/{id}")


@pytest.fixture
def own_types(monkeypatch):
    monkeypatch.setattr(conventions, "SEGMENT_TYPES", dict(conventions.SEGMENT_TYPES))
    yield
    conventions._piece.cache_clear()
    conventions._parse.cache_clear()
    conventions._key.cache_clear()


def test_a_project_type_is_one_table_entry(own_types):
    assert not Template.parse("/c/{color:hex}").bounded  # unknown yet, and memoised so
    add_segment_type(SegmentType("hex", str, Rank.TYPED, "ff", pattern="[0-9a-f]+"))
    assert Template.parse("/c/{color:hex}").bounded  # read again
    assert conventions.parse_segment("[color=hex]").type == "hex"
    # Tried after the built-in typed segments, before untyped ones.
    assert precedence_key("/c/{x:float}") < precedence_key("/c/{color:hex}") < precedence_key(
        "/c/{name}")
    with pytest.raises(ValueError, match="already"):
        add_segment_type(SegmentType("int", int, Rank.TYPED, "1"))
