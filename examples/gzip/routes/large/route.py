"""GET /large -> 4000 bytes of text, compressed when the client accepts gzip."""

from fastapi import Request
from fastapi.responses import PlainTextResponse


async def GET(request: Request):
    return PlainTextResponse("x" * 4000)
