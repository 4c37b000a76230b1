"""GET /predict?x=2 -> {"result": 84.0}, computed by the model the lifespan loaded."""

from fastapi import Request

from ...app import ml_models


async def GET(request: Request, x: float):
    result = ml_models["answer_to_everything"](x)
    return {"result": result}
