"""GET /: a page with two forms that each send several files, to `POST /files` (read as
bytes) and to `POST /uploadfiles` (as `UploadFile`s)."""

from fastapi import Request
from fastapi.responses import HTMLResponse

# The forms post to the routes' own URLs: a route file's URL has no trailing slash, where
# the tutorial's `@app.post("/files/")` has one.
PAGE = """
<body>
<form action="/files" enctype="multipart/form-data" method="post">
<input name="files" type="file" multiple>
<input type="submit">
</form>
<form action="/uploadfiles" enctype="multipart/form-data" method="post">
<input name="files" type="file" multiple>
<input type="submit">
</form>
</body>
"""


async def GET(request: Request) -> HTMLResponse:
    return HTMLResponse(content=PAGE)
