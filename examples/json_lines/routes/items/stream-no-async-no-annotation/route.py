"""GET /items/stream-no-async-no-annotation: a plain generator without an annotation."""

from fastapi import Request

from ....catalog import items


def GET(request: Request):
    yield from items
