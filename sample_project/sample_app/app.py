"""What the sample API passes to FastAPI(...): a lifespan and GZip for large answers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

# Filled by the lifespan in each worker; routes read it with `from ...app import state`.
state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state["started_at"] = time.time()
    state["served"] = 0
    yield
    state.clear()


middleware = [Middleware(GZipMiddleware, minimum_size=1000)]
