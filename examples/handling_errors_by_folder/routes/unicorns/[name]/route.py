from fastapi import Request

from ....errors import UnicornException


async def GET(request: Request, name: str):
    """Read a unicorn; `yolo` raises the app's own exception."""
    if name == "yolo":
        raise UnicornException(name=name)
    return {"unicorn_name": name}
