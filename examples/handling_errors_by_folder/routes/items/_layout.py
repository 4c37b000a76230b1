"""Below /items, an invalid request is a 422 that also echoes the body the client sent."""

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response


def validation_exception_handler(request: Request, exc: RequestValidationError) -> Response:
    # A plain def: a handler may be sync, as in FastAPI (it runs in the thread pool).
    return JSONResponse(
        status_code=422,
        content=jsonable_encoder({"detail": exc.errors(), "body": exc.body}),
    )


exception_handlers = {RequestValidationError: validation_exception_handler}
