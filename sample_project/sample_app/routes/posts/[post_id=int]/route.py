from typing import Any

from fastapi_route import NotFoundException, Request

POSTS = {1: "hello-world", 2: "file-routing"}


def GET(request: Request, post_id) -> dict[str, Any]:
    """A post by its number: [post_id=int] only matches digits, and is tried before [slug]."""
    if post_id not in POSTS:
        raise NotFoundException(detail=f"no post {post_id}")
    return {"id": post_id, "slug": POSTS[post_id]}
