from typing import Any

from fastapi_route import NotFoundException, Request

ITEMS = {1: "hammer", 2: "saw"}


def GET(request: Request, item_id: int, upper: bool = False) -> dict[str, Any]:
    """Fetch one item; `?upper=true` shouts its name."""
    name = ITEMS.get(item_id)
    if name is None:
        raise NotFoundException(detail=f"item {item_id} not found")
    return {"item_id": item_id, "name": name.upper() if upper else name}
