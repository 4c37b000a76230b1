from fastapi import Request

from ...models import Item


async def POST(request: Request, item: Item):
    """Create an item.

    An invalid body answers 422 with the errors and the body as sent (see app.py).
    """
    return item
