from typing import Any

from fastapi import Depends
from fastapi_route import Request

from .deps import pagination


async def GET(
    request: Request,
    q: str | None = None,
    paging: dict[str, int] = Depends(pagination),
) -> dict[str, Any]:
    """Search items, with `skip`/`limit` paging from a dependency."""
    return {"q": q, "skip": paging["skip"], "limit": paging["limit"]}
