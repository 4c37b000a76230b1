from fastapi_route import Request
from sample_app.models import User, UserIn
from sample_app.store import store


def GET(request: Request, limit: int = 10) -> list[User]:
    """List users, at most `limit` of them."""
    return store.list(limit)


def POST(request: Request, body: UserIn):
    """Create a user."""
    user = store.create(body)
    return user.model_dump(), 201
