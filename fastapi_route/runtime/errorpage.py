"""`dev` with a broken tree: an app that answers every request with the problems, until fixed."""

from __future__ import annotations

import html
import traceback

from fastapi import FastAPI
from starlette.responses import HTMLResponse
from starlette.types import Receive, Scope, Send

from ..errors import BuildFailed, FastAPIRouteError

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>fastapi-route: the project has errors</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}
li{{margin:.8rem 0}} code{{background:#f3f3f3;padding:0 .2rem}} .hint{{color:#555}}
pre{{background:#f7f7f7;padding:1rem;overflow:auto}}</style></head>
<body><h1>The project has errors</h1>
<p>The development server keeps running and reloads when you save a fix.</p>
<ul>{items}</ul>{details}</body></html>
"""


def render(error: FastAPIRouteError) -> str:
    if isinstance(error, BuildFailed):
        items = "".join(
            f"<li><strong>{html.escape(p.code)}</strong> <code>{html.escape(p.location)}</code> "
            f"{html.escape(p.message)}<div class=hint>hint: {html.escape(p.hint)}</div></li>"
            for p in sorted(error.problems)
        )
    else:
        items = f"<li><pre>{html.escape(str(error))}</pre></li>"
    details = ""
    cause = error.__cause__
    if cause is not None:
        trace = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
        details = f"<h2>Traceback</h2><pre>{html.escape(trace)}</pre>"
    return _PAGE.format(items=items, details=details)


def error_app(error: FastAPIRouteError) -> FastAPI:
    page = render(error)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await HTMLResponse(page, status_code=500)(scope, receive, send)

    app.router.default = fallback
    return app
