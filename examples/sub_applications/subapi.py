"""The sub-application: an independent FastAPI app, with its own routes, docs and document.

Mounted at /subapi by `configure` in app.py, it serves `/subapi/sub`, and its own docs at
`/subapi/docs`, which fetch its own document from `/subapi/openapi.json` (the mount gives it
`/subapi` as its root path).
"""

from fastapi import FastAPI

subapi = FastAPI()


@subapi.get("/sub")
def read_sub():
    return {"message": "Hello World from sub API"}
