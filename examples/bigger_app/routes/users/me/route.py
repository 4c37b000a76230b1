from fastapi import Request

from fastapi_route import route


@route(tags=["users"])
async def GET(request: Request):
    return {"username": "fakecurrentuser"}
