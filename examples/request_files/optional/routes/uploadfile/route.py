"""POST /uploadfile: an optional `UploadFile`."""

from fastapi import Request, UploadFile


async def POST(request: Request, file: UploadFile | None = None):
    if not file:
        return {"message": "No upload file sent"}
    return {"filename": file.filename}
