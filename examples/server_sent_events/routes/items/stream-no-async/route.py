"""GET /items/stream-no-async: the same stream from a plain generator (FastAPI iterates it
in its thread pool)."""

from collections.abc import Iterable

from fastapi import Request
from fastapi.sse import EventSourceResponse

from fastapi_route import route

from ....catalog import Item, items


@route(response_class=EventSourceResponse)
def GET(request: Request) -> Iterable[Item]:
    yield from items
