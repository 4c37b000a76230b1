from typing import Any

from fastapi_route import Request


def GET(request: Request, path: list[str]) -> dict[str, Any]:
    """Echo the segments matched by the catch-all."""
    return {"segments": path, "depth": len(path)}
