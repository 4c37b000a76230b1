"""GET /items: the common query parameters, from the dependency (or its override)."""

from typing import Annotated

from fastapi import Depends, Request

from ...dependencies import common_parameters


async def GET(request: Request, commons: Annotated[dict, Depends(common_parameters)]):
    return {"message": "Hello Items!", "params": commons}
