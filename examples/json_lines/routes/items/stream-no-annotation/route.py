"""GET /items/stream-no-annotation: without an annotation each item is only encoded."""

from fastapi import Request

from ....catalog import items


async def GET(request: Request):
    for item in items:
        yield item
