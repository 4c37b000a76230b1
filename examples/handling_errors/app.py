"""The exception handlers of FastAPI's "Handling Errors" tutorial, as `FastAPI()` takes them.

- `UnicornException` -> a 418 with a JSON message (the custom exception and its handler);
- `HTTPException` -> logged, then FastAPI's own handler (re-using the default handlers);
- `RequestValidationError` -> a 422 that also echoes the body the client sent.
"""

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import UnicornException


async def unicorn_exception_handler(request: Request, exc: UnicornException) -> Response:
    return JSONResponse(
        status_code=418,
        content={"message": f"Oops! {exc.name} did something. There goes a rainbow..."},
    )


async def custom_http_exception_handler(request: Request, exc: StarletteHTTPException) -> Response:
    print(f"OMG! An HTTP error!: {exc!r}")
    return await http_exception_handler(request, exc)


async def validation_exception_handler(request: Request, exc: RequestValidationError) -> Response:
    return JSONResponse(
        status_code=422,
        content=jsonable_encoder({"detail": exc.errors(), "body": exc.body}),
    )


exception_handlers = {
    UnicornException: unicorn_exception_handler,
    StarletteHTTPException: custom_http_exception_handler,
    RequestValidationError: validation_exception_handler,
}
