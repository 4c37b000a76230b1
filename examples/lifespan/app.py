"""What FastAPI's "Lifespan Events" tutorial passes to `FastAPI(lifespan=...)`.

The lifespan loads a (fake) machine-learning model into `ml_models` before the first request
and empties it at shutdown. Route files read the dict with `from ...app import ml_models`:
fastapi-route imports this file once, so they see the very dict the lifespan filled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI


def fake_answer_to_everything_ml_model(x: float) -> float:
    return x * 42


ml_models: dict[str, Callable[[float], float]] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Startup: load the model before the app takes any request.
    ml_models["answer_to_everything"] = fake_answer_to_everything_ml_model
    yield
    # Shutdown: release it once the app has stopped taking requests.
    ml_models.clear()
