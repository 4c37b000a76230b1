"""POST /chat/stream: a stream answers any method; here a JSON body, one `token` event per
word, then a `done` event."""

from collections.abc import AsyncIterable

from fastapi import Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from fastapi_route import route


class Prompt(BaseModel):
    text: str


@route(response_class=EventSourceResponse)
async def POST(request: Request, prompt: Prompt) -> AsyncIterable[ServerSentEvent]:
    for word in prompt.text.split():
        yield ServerSentEvent(data=word, event="token")
    yield ServerSentEvent(raw_data="[DONE]", event="done")
