from fastapi_route import Request


def GET(request: Request):
    """Refuse to brew coffee."""
    return {"error": "I'm a teapot"}, 418, {"X-Teapot": "yes"}
