from typing import Any

from fastapi_route import NotFoundException, Request
from sample_app.store import store


def GET(request: Request) -> dict[str, Any]:
    """Return the current user (always user 1 in this sample)."""
    user = store.get(1)
    if user is None:
        raise NotFoundException(detail="current user not found")
    return {"me": True, **user.model_dump()}
