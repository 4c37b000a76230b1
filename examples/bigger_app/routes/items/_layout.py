"""The tutorial's items router: `APIRouter(prefix="/items", tags=..., dependencies=...,
responses=...)`. The prefix is this folder's name; the rest applies to every route below."""

from fastapi import Depends

from ...dependencies import get_token_header

tags = ["items"]
dependencies = [Depends(get_token_header)]
responses = {404: {"description": "Not found"}}
