"""What the tutorial does to its app after making it: mount the sub-application.

`configure(app)` is called once every route file is registered; what it mounts is served,
and stays out of the main app's document, as with FastAPI's `app.mount`.
"""

from fastapi import FastAPI

from .subapi import subapi


def configure(app: FastAPI) -> None:
    app.mount("/subapi", subapi)
