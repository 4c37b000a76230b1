from typing import Any

from fastapi_route import Request


def GET(request: Request) -> dict[str, Any]:
    """Report that the service is up, with this request's id."""
    return {"status": "ok", "request_id": getattr(request.state, "request_id", None)}
