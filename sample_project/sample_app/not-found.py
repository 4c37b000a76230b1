"""Custom 404 body."""

from typing import Any

from fastapi_route import Request


def handler(request: Request, context: Any) -> dict[str, Any]:
    return {
        "error": "not found",
        "path": request.url.path,
        "routes": context.get_statistics()["total_routes"],
    }
