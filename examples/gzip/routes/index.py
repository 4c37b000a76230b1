"""GET / -> "somebigcontent" (too small to be compressed)."""

from fastapi import Request


async def GET(request: Request):
    return "somebigcontent"
