from fastapi_route import NotFoundException, Request
from sample_app.models import User, UserIn
from sample_app.store import store


def GET(request: Request, user_id: int) -> User:
    """Fetch one user."""
    user = store.get(user_id)
    if user is None:
        raise NotFoundException(detail=f"user {user_id} not found")
    return user


def PUT(request: Request, user_id: int, body: UserIn) -> User:
    """Replace a user's name and email."""
    user = store.update(user_id, body)
    if user is None:
        raise NotFoundException(detail=f"user {user_id} not found")
    return user


def DELETE(request: Request, user_id: int) -> None:
    """Delete a user."""
    if not store.delete(user_id):
        raise NotFoundException(detail=f"user {user_id} not found")
