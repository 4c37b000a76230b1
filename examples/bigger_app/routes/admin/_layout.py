"""The tutorial's internal admin router, as `include_router` adds it: under `/admin` (this
folder), tagged `admin`, behind the X-Token header, documenting a 418."""

from fastapi import Depends

from ...dependencies import get_token_header

tags = ["admin"]
dependencies = [Depends(get_token_header)]
responses = {418: {"description": "I'm a teapot"}}
