"""HTTP errors a handler can raise by name; each is a FastAPI HTTPException with its status."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException


class _StatusException(HTTPException):
    status: int = 500
    default_detail: str = "Error"

    def __init__(self, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(self.status, self.default_detail if detail is None else detail, headers)


class BadRequestException(_StatusException):
    status, default_detail = 400, "Bad Request"


class UnauthorizedException(_StatusException):
    status, default_detail = 401, "Unauthorized"


class ForbiddenException(_StatusException):
    status, default_detail = 403, "Forbidden"


class NotFoundException(_StatusException):
    status, default_detail = 404, "Not Found"


class MethodNotAllowedException(_StatusException):
    status, default_detail = 405, "Method Not Allowed"


class ConflictException(_StatusException):
    status, default_detail = 409, "Conflict"
