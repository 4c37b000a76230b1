"""POST /files: a file is optional; without one, a message says so."""

from typing import Annotated

from fastapi import File, Request


async def POST(request: Request, file: Annotated[bytes | None, File()] = None):
    if not file:
        return {"message": "No file sent"}
    return {"file_size": len(file)}
