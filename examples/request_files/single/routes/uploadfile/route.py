"""POST /uploadfile: one file as an `UploadFile`."""

from typing import Annotated

from fastapi import File, Request, UploadFile


async def POST(
    request: Request,
    file: Annotated[UploadFile, File(description="A file read as UploadFile")],
):
    return {"filename": file.filename}
