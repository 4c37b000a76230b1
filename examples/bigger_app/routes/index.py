from fastapi import Request


async def GET(request: Request):
    """Greet the caller.

    The app-wide `token` query parameter still applies here.
    """
    return {"message": "Hello Bigger Applications!"}
