from typing import Any

from fastapi_route import Request


def GET(request: Request, page: list[str]) -> dict[str, Any]:
    """The guides: /guides is the index (page == []), /guides/a/b a page below it."""
    return {"page": page, "index": not page}
