from fastapi import HTTPException, Request

items = {"foo": "The Foo Wrestlers"}


async def GET(request: Request, item_id: str):
    """Read an item; a 404 with an `X-Error` header when there is none, 400 for `bad`."""
    if item_id == "bad":
        raise HTTPException(status_code=400, detail="Bad item")
    if item_id not in items:
        raise HTTPException(
            status_code=404,
            detail="Item not found",
            headers={"X-Error": "There goes my error"},
        )
    return {"item": items[item_id]}
