from typing import Any

from fastapi_route import NotFoundException, Request

SLUGS = {"hello-world": 1, "file-routing": 2}


def GET(request: Request, slug: str) -> dict[str, Any]:
    """A post by its slug: any segment that is not a number."""
    if slug not in SLUGS:
        raise NotFoundException(detail=f"no post {slug!r}")
    return {"id": SLUGS[slug], "slug": slug}
