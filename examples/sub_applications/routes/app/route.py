"""GET /app: a route of the main app (its docs at /docs, its document at /openapi.json)."""

from fastapi import Request


def GET(request: Request):
    return {"message": "Hello World from main app"}
