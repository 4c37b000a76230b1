"""GET /items/stream: each item as one line of JSON (`application/jsonl`).

A generator handler is registered as it is: FastAPI sees the `yield` and, with its default
response class, streams one JSON document per line. The return annotation says what each
line is (validated, and documented as the stream's `itemSchema`).
"""

from collections.abc import AsyncIterable

from fastapi import Request

from ....catalog import Item, items


async def GET(request: Request) -> AsyncIterable[Item]:
    for item in items:
        yield item
