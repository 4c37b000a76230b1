"""GET /items/stream: each item as one Server-Sent Event, its JSON in `data:`.

A generator handler is registered as it is: FastAPI sees the `yield` and, with
`response_class=EventSourceResponse`, streams what it yields as events. The return annotation
says what each event's data is (validated, and documented as the stream's `itemSchema`).
"""

from collections.abc import AsyncIterable

from fastapi import Request
from fastapi.sse import EventSourceResponse

from fastapi_route import route

from ....catalog import Item, items


@route(response_class=EventSourceResponse)
async def GET(request: Request) -> AsyncIterable[Item]:
    for item in items:
        yield item
