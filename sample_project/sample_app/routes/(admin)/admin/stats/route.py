import time
from typing import Any

from sample_app.app import state
from sample_app.store import store

from fastapi_route import Request


def GET(request: Request) -> dict[str, Any]:
    """Counts for operators.

    Guarded by the (admin) group's layout: send X-Admin-Token.
    """
    return {
        "users": len(store.list()),
        "uptime_seconds": round(time.time() - state["started_at"], 3),
    }
