"""What FastAPI's "Advanced Middleware" tutorial adds with `app.add_middleware(...)`.

`middleware` is the list `FastAPI(middleware=...)` takes, first outermost: here one GZip
middleware that compresses any response of 1000 bytes or more for a client that accepts gzip.
"""

from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

middleware = [Middleware(GZipMiddleware, minimum_size=1000, compresslevel=5)]
