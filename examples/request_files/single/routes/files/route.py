"""POST /files: one file, read as bytes."""

from typing import Annotated

from fastapi import File, Request


async def POST(request: Request, file: Annotated[bytes, File(description="A file read as bytes")]):
    return {"file_size": len(file)}
