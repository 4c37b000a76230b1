from typing import Any

from fastapi_route import Request
from sample_app.config import app_name


def GET(request: Request) -> dict[str, Any]:
    """Greet the caller."""
    return {"name": app_name, "message": "Hello from fastapi-route"}
