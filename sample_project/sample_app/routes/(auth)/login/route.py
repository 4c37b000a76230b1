import secrets

from fastapi_route import Request, UnauthorizedException
from pydantic import BaseModel


class LoginIn(BaseModel):
    username: str
    password: str


def POST(request: Request, body: LoginIn) -> dict[str, str]:
    """Exchange credentials for a token (the password is "secret")."""
    if body.password != "secret":
        raise UnauthorizedException(detail="invalid username or password")
    return {"token": secrets.token_hex(16)}
