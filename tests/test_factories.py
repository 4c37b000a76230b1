"""Pydantic's check of a builtin `default_factory` is asked once per process (issue 19, item
4): each ask copied sys.modules, which holds a module per route file and per folder."""

from __future__ import annotations

import datetime
import functools
import importlib
import inspect
import logging
import time
from pathlib import Path

import pytest
from conftest import write_tree
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, TypeAdapter

import fastapi_route
from fastapi_route.runtime import factories

MODELS = """
    from pydantic import BaseModel, Field


    class Cart(BaseModel):
        name: str = "cart"
        items: list[str] = Field(default_factory=list)
        tags: dict[str, str] = Field(default_factory=dict)
        # a factory that takes the data validated so far (pydantic 2.10+)
        label: str = Field(default_factory=lambda data: data["name"].upper())


    def POST(request, cart: Cart) -> Cart:
        cart.items.append("added")
        return cart
"""


def _fields_module():  # type: ignore[no-untyped-def]
    return importlib.import_module(factories.HOMES[0])


def test_a_builtin_factory_is_asked_once_and_the_answers_stay_pydantics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an app made, pydantic's check is ours in both places pydantic calls it; making a
    model with `Field(default_factory=list)` and its document parses no builtin signature
    (what copied sys.modules); the defaults are pydantic's: a new list per request, a
    factory that takes the data gets it."""
    if factories._version() < factories.SINCE:
        pytest.skip("this pydantic never asks")
    root = write_tree(tmp_path, {"routes/carts/route.py": MODELS})
    parsed: list[object] = []
    fromstr = getattr(inspect, "_signature_fromstr", None)
    if fromstr is not None:  # CPython's parser of a builtin's text signature (3.10-3.13)
        def counted(cls: object, obj: object, *args: object, **kwargs: object) -> object:
            parsed.append(obj)
            return fromstr(cls, obj, *args, **kwargs)

        monkeypatch.setattr(inspect, "_signature_fromstr", counted)
    app = fastapi_route.create_app(root, source="scan", schedule="eager")
    for name in factories.HOMES:
        check = getattr(importlib.import_module(name), factories.NAME)
        assert getattr(check, "__fastapi_route__", False), name
    with TestClient(app) as client:
        first = client.post("/carts", json={"name": "mine"})
        second = client.post("/carts", json={"name": "yours", "tags": {"a": "b"}})
        document = client.get("/openapi.json").json()
    assert first.json() == {"name": "mine", "items": ["added"], "tags": {}, "label": "MINE"}
    assert second.json() == {"name": "yours", "items": ["added"], "tags": {"a": "b"},
                             "label": "YOURS"}
    assert "Cart" in str(document["components"]["schemas"])
    # Once asked (by this test or any before it), `list` and `dict` are never parsed again.
    parsed.clear()

    class Again(BaseModel):
        items: list[int] = Field(default_factory=list)
        tags: dict[str, int] = Field(default_factory=dict)

    assert TypeAdapter(Again).validate_python({}) == Again(items=[], tags={})
    assert list not in parsed and dict not in parsed


def test_only_lasting_factories_are_remembered() -> None:
    """Builtin types and the builtin functions of a module or a builtin type are remembered;
    a function, a class of the user's, a partial or a method of an object are asked each time
    (their signature may change, or keeping them would keep them alive)."""

    class Mine(dict):  # type: ignore[type-arg]
        pass

    assert all(factories.lasting(f) for f in (list, dict, set, datetime.datetime.now, time.time))
    assert not any(factories.lasting(f) for f in (
        lambda: [], Mine, functools.partial(list), [].copy, BaseModel))
    asked: list[object] = []

    def original(factory: object) -> bool:
        asked.append(factory)
        return factory is not list

    check = factories.remembering(original)
    function = lambda data: data  # noqa: E731
    answers = [check(f) for f in (list, list, time.time, time.time, function, function)]
    assert answers == [False, False, True, True, True, True]
    assert asked == [list, time.time, function, function]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if no app had been made in this process (and pydantic's own check in place)."""
    monkeypatch.setattr(factories, "_installed", None)
    for name in factories.HOMES:
        home = importlib.import_module(name)
        check = getattr(home, factories.NAME, None)
        if getattr(check, "__fastapi_route__", False):
            monkeypatch.setattr(home, factories.NAME, check.__wrapped__)


@pytest.mark.usefixtures("fresh")
def test_a_moved_check_warns_once_and_leaves_pydantic_as_it_is(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    if factories._version() < factories.SINCE:
        pytest.skip("this pydantic never asks")
    fields = _fields_module()
    schema = importlib.import_module(factories.HOMES[1])
    stock = getattr(schema, factories.NAME, None)
    monkeypatch.delattr(fields, factories.NAME)
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        assert factories.remember_factory_checks() is False
        assert factories.remember_factory_checks() is False
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "default_factory" in warned[0], warned
    assert getattr(schema, factories.NAME, None) is stock  # untouched

    class Still(BaseModel):
        items: list[int] = Field(default_factory=list)

    assert Still().items == []


@pytest.mark.usefixtures("fresh")
def test_a_pydantic_that_never_asks_is_left_alone_without_a_word(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("pydantic.version.VERSION", "2.9.2")
    with caplog.at_level(logging.WARNING, logger="fastapi_route"):
        assert factories.remember_factory_checks() is False
    assert not caplog.records
    check = getattr(_fields_module(), factories.NAME, None)
    assert not getattr(check, "__fastapi_route__", False)


@pytest.mark.usefixtures("fresh")
def test_installed_once_where_pydantic_calls_it() -> None:
    if factories._version() < factories.SINCE:
        pytest.skip("this pydantic never asks")
    original = getattr(_fields_module(), factories.NAME)
    assert factories.remember_factory_checks() is True
    assert factories.remember_factory_checks() is True
    for name in factories.HOMES:
        check = getattr(importlib.import_module(name), factories.NAME)
        assert check.__wrapped__ is original, name  # wrapped once, not twice
