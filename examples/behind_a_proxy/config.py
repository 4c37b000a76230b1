# The server's root path: what `uvicorn --root-path /api/v1` (or `fastapi run --root-path`)
# says, for `fastapi-route run` and `dev`, which hand config.py's `server` keys to uvicorn.
server = {"root_path": "/api/v1"}
