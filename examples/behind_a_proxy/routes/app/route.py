"""GET /app: served behind a proxy that strips a path prefix (`/api/v1`), the server being
started with that prefix as its root path (`--root-path /api/v1`). The app's routes stay
written without it; the prefix reaches each request as `root_path` in its ASGI scope."""

from fastapi import Request


def GET(request: Request):
    return {"message": "Hello World", "root_path": request.scope.get("root_path")}
