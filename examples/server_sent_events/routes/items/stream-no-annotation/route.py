"""GET /items/stream-no-annotation: without a return annotation each item is only encoded
(`jsonable_encoder`), not validated, and the document says nothing of its shape."""

from fastapi import Request
from fastapi.sse import EventSourceResponse

from fastapi_route import route

from ....catalog import items


@route(response_class=EventSourceResponse)
async def GET(request: Request):
    for item in items:
        yield item
