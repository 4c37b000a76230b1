"""fastapi-route: file-based routing for FastAPI with a build step.

The names users import from here (Request, the responses, the HTTP exceptions, create_app)
pull in FastAPI, so they load on first use: `fastapi-route build` and the hatchling hook import
this package without paying for FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.5.0"

_LAZY = {
    "Request": "fastapi",
    "HTTPException": "fastapi",
    "Depends": "fastapi",
    "Response": "fastapi.responses",
    "JSONResponse": "fastapi.responses",
    "HTMLResponse": "fastapi.responses",
    "PlainTextResponse": "fastapi.responses",
    "RedirectResponse": "fastapi.responses",
    "BadRequestException": "fastapi_route.http_exceptions",
    "UnauthorizedException": "fastapi_route.http_exceptions",
    "ForbiddenException": "fastapi_route.http_exceptions",
    "NotFoundException": "fastapi_route.http_exceptions",
    "MethodNotAllowedException": "fastapi_route.http_exceptions",
    "ConflictException": "fastapi_route.http_exceptions",
    "create_app": "fastapi_route.runtime.app",
    "include": "fastapi_route.host",
    "runtime_of": "fastapi_route.runtime.app",
    "route": "fastapi_route.runtime.endpoints",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from fastapi import Depends as Depends
    from fastapi import HTTPException as HTTPException
    from fastapi import Request as Request
    from fastapi.responses import HTMLResponse as HTMLResponse
    from fastapi.responses import JSONResponse as JSONResponse
    from fastapi.responses import PlainTextResponse as PlainTextResponse
    from fastapi.responses import RedirectResponse as RedirectResponse
    from fastapi.responses import Response as Response

    from .host import include as include
    from .http_exceptions import BadRequestException as BadRequestException
    from .http_exceptions import ConflictException as ConflictException
    from .http_exceptions import ForbiddenException as ForbiddenException
    from .http_exceptions import MethodNotAllowedException as MethodNotAllowedException
    from .http_exceptions import NotFoundException as NotFoundException
    from .http_exceptions import UnauthorizedException as UnauthorizedException
    from .runtime.app import create_app as create_app
    from .runtime.app import runtime_of as runtime_of
    from .runtime.endpoints import route as route


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastapi_route' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
