from fastapi import HTTPException, Request

items = {"foo": "The Foo Wrestlers"}


async def GET(request: Request, item_id: str):
    """Read an item; 404 when there is none (app.py's handler: logged, then FastAPI's)."""
    if item_id not in items:
        raise HTTPException(status_code=404, detail="Item not found")
    return {"item": items[item_id]}
