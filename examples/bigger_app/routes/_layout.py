"""Every route of the app needs `?token=jessica`: the tutorial's `FastAPI(dependencies=...)`."""

from fastapi import Depends

from ..dependencies import get_query_token

dependencies = [Depends(get_query_token)]
