"""GET /items/stream-no-async: the same lines from a plain generator."""

from collections.abc import Iterable

from fastapi import Request

from ....catalog import Item, items


def GET(request: Request) -> Iterable[Item]:
    yield from items
