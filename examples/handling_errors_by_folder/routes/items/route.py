from fastapi import Request

from ...models import Item


async def POST(request: Request, item: Item):
    """Create an item; an invalid body echoes the body (see _layout.py)."""
    return item
