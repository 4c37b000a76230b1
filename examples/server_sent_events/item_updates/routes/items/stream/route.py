"""GET /items/stream: `ServerSentEvent` sets every field of an event: a comment first, then
each item as an `item_update` event with an id and a retry delay."""

from collections.abc import AsyncIterable

from fastapi import Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from fastapi_route import route


class Item(BaseModel):
    name: str
    price: float


items = [
    Item(name="Plumbus", price=32.99),
    Item(name="Portal Gun", price=999.99),
    Item(name="Meeseeks Box", price=49.99),
]


@route(response_class=EventSourceResponse)
async def GET(request: Request) -> AsyncIterable[ServerSentEvent]:
    yield ServerSentEvent(comment="stream of item updates")
    for number, item in enumerate(items, start=1):
        yield ServerSentEvent(data=item, event="item_update", id=str(number), retry=5000)
