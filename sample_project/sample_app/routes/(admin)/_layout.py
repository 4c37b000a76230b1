"""Every route in the (admin) group needs the admin token; the group adds no URL segment."""

from fastapi import Depends, Header

from fastapi_route import ForbiddenException


def _require_admin(x_admin_token: str = Header()) -> None:
    if x_admin_token != "admin-secret":
        raise ForbiddenException(detail="admin token required")


dependencies = [Depends(_require_admin)]
tags = ["admin"]
responses = {403: {"description": "Not an admin"}}
