"""Below /items-header, a 404 is plain text (its headers kept); other statuses go on to
app.py's handler."""

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException


async def plain_not_found(request: Request, exc: StarletteHTTPException) -> Response:
    return PlainTextResponse(str(exc.detail), status_code=404, headers=exc.headers)


exception_handlers = {404: plain_not_found}
