"""GET /logs/stream: `raw_data` sends a line as it is, not JSON-encoded."""

from collections.abc import AsyncIterable

from fastapi import Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from fastapi_route import route

LOG_LINES = [
    "2025-01-01 INFO  Application started",
    "2025-01-01 DEBUG Connected to database",
    "2025-01-01 WARN  High memory usage detected",
]


@route(response_class=EventSourceResponse)
async def GET(request: Request) -> AsyncIterable[ServerSentEvent]:
    for line in LOG_LINES:
        yield ServerSentEvent(raw_data=line)
