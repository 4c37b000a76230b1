from fastapi import Request

from fastapi_route import route


@route(tags=["users"])
async def GET(request: Request):
    """List the users."""
    return [{"username": "Rick"}, {"username": "Morty"}]
