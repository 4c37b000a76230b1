from typing import Any

from fastapi_route import NotFoundException, Request
from sample_app.store import store

PAGE_SIZE = 3


def GET(request: Request, user_id: int, page: int = 1) -> dict[str, Any]:
    """List a user's posts, one page at a time."""
    user = store.get(user_id)
    if user is None:
        raise NotFoundException(detail=f"user {user_id} not found")
    first = (max(page, 1) - 1) * PAGE_SIZE + 1
    posts = [
        {"id": n, "title": f"{user.name}'s post #{n}"}
        for n in range(first, first + PAGE_SIZE)
    ]
    return {"user_id": user_id, "page": page, "posts": posts}
