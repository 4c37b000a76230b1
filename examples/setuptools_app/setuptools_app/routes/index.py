from typing import Any

from fastapi_route import Request
from setuptools_app.config import app_name


def GET(request: Request) -> dict[str, Any]:
    """Greet the caller."""
    return {"name": app_name, "built_with": "setuptools"}
