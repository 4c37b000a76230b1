"""The two dependencies of FastAPI's "Bigger Applications" tutorial.

`routes/_layout.py` puts `get_query_token` on every route (the tutorial's
`FastAPI(dependencies=...)`); `routes/items/_layout.py` and `routes/admin/_layout.py` add
`get_token_header` (its `APIRouter(dependencies=...)` and `include_router(dependencies=...)`).
"""

from typing import Annotated

from fastapi import Header, HTTPException


async def get_token_header(x_token: Annotated[str, Header()]) -> None:
    if x_token != "fake-super-secret-token":
        raise HTTPException(status_code=400, detail="X-Token header invalid")


async def get_query_token(token: str) -> None:
    if token != "jessica":
        raise HTTPException(status_code=400, detail="No Jessica token provided")
