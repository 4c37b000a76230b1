"""A UnicornException raised below /unicorns is a 418; raised anywhere else, nobody handles it."""

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ...errors import UnicornException


async def unicorn_exception_handler(request: Request, exc: UnicornException) -> Response:
    return JSONResponse(
        status_code=418,
        content={"message": f"Oops! {exc.name} did something. There goes a rainbow..."},
    )


exception_handlers = {UnicornException: unicorn_exception_handler}
