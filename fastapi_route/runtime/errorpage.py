"""`dev` with a broken tree: every request answered with the problems, until a save fixes it."""

from __future__ import annotations

import html
import traceback

from starlette.responses import HTMLResponse

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


def error_response(error: BaseException) -> HTMLResponse:
    """The page for `error`: a route tree's problems, or what the project's code raised."""
    if not isinstance(error, FastAPIRouteError):
        wrapped = FastAPIRouteError(f"the project failed to load: {type(error).__name__}: {error}")
        wrapped.__cause__ = error
        error = wrapped
    return HTMLResponse(render(error), status_code=500)
