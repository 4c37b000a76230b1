"""GET /items/stream-no-async-no-annotation: a plain generator without an annotation."""

from fastapi import Request
from fastapi.sse import EventSourceResponse

from fastapi_route import route

from ....catalog import items


@route(response_class=EventSourceResponse)
def GET(request: Request):
    yield from items
