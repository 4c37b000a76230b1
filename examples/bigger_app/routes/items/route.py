from fastapi import Request

from .fake_db import fake_items_db


async def GET(request: Request):
    """List the items."""
    return fake_items_db
