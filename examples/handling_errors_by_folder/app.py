"""The app-wide handler: every HTTPException is logged, then answered by FastAPI's own
handler, unless a layout above the route handles it first."""

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException


async def custom_http_exception_handler(request: Request, exc: StarletteHTTPException) -> Response:
    print(f"OMG! An HTTP error!: {exc!r}")
    return await http_exception_handler(request, exc)


exception_handlers = {StarletteHTTPException: custom_http_exception_handler}
