import datetime
from typing import Any

from fastapi_route import Request


def GET(request: Request, day: str) -> dict[str, Any]:
    """The posts of one day: [day=date] (params/date.py) takes real days only, before [slug]."""
    return {"day": datetime.date.fromisoformat(day).isoformat(), "posts": []}
