"""GET /users: the same dependency, so the same override applies."""

from typing import Annotated

from fastapi import Depends, Request

from dependency_testing.dependencies import common_parameters  # by name: the same module


async def GET(request: Request, commons: Annotated[dict, Depends(common_parameters)]):
    return {"message": "Hello Users!", "params": commons}
