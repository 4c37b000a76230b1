from fastapi import Request

from ...models import Item


async def POST(request: Request, item: Item):
    """Order an item; an invalid body is FastAPI's default 422 (no layout above handles it)."""
    return item
