from fastapi_route import Request


def POST(request: Request) -> None:
    """Log out; there is no session to end, so this only answers 204."""
    return None
