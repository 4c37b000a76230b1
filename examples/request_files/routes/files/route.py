"""POST /files: several files in the form field `files`, each read whole into memory."""

from typing import Annotated

from fastapi import File, Request


async def POST(
    request: Request,
    files: Annotated[list[bytes], File(description="Multiple files as bytes")],
):
    return {"file_sizes": [len(file) for file in files]}
