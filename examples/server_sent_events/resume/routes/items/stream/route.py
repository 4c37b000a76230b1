"""GET /items/stream: a client that reconnects sends the id of the last event it got
(`Last-Event-ID`), and the stream resumes after it."""

from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import Header, Request
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
async def GET(
    request: Request, last_event_id: Annotated[int | None, Header()] = None
) -> AsyncIterable[ServerSentEvent]:
    first = 0 if last_event_id is None else last_event_id + 1
    for index, item in enumerate(items):
        if index >= first:
            yield ServerSentEvent(data=item, id=str(index))
