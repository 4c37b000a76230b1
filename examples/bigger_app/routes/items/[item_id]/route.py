from fastapi import HTTPException, Request

from fastapi_route import route

from ..fake_db import fake_items_db


async def GET(request: Request, item_id: str):
    """Read one item.

    Answers 404 for an item that does not exist.
    """
    if item_id not in fake_items_db:
        raise HTTPException(status_code=404, detail="Item not found")
    return {"name": fake_items_db[item_id]["name"], "item_id": item_id}


@route(tags=["custom"], responses={403: {"description": "Operation forbidden"}})
async def PUT(request: Request, item_id: str):
    """Update an item (only the plumbus can be updated)."""
    if item_id != "plumbus":
        raise HTTPException(status_code=403, detail="You can only update the item: plumbus")
    return {"item_id": item_id, "name": "The great Plumbus"}
