from fastapi import HTTPException, Request


async def GET(request: Request, item_id: int):
    """Read an item, unless it is 3."""
    if item_id == 3:
        raise HTTPException(status_code=418, detail="Nope! I don't like 3.")
    return {"item_id": item_id}
