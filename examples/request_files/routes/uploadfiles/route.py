"""POST /uploadfiles: several files as `UploadFile`s (spooled to disk past a size, with their
name and content type)."""

from typing import Annotated

from fastapi import File, Request, UploadFile


async def POST(
    request: Request,
    files: Annotated[list[UploadFile], File(description="Multiple files as UploadFile")],
):
    return {"filenames": [file.filename for file in files]}
