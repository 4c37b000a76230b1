from fastapi import Request

from ....errors import UnicornException


async def GET(request: Request, name: str):
    """Read a horse; `yolo` raises the unicorns' exception, which no handler here answers."""
    if name == "yolo":
        raise UnicornException(name=name)
    return {"horse_name": name}
