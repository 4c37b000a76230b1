"""Custom /docs page: a plain list of every route."""

from html import escape
from typing import Any

from fastapi_route import Request


def handler(request: Request, context: Any) -> str:
    info = context.get_project_info()
    items = "\n".join(
        f"    <li><code>{escape(route['method'])} {escape(route['path'])}</code></li>"
        for route in context.get_routes()
    )
    title = escape(f"{info['name']} {info['version']}")
    return (
        "<!doctype html>\n"
        f"<html><head><title>{title}</title>"
        '<link rel="stylesheet" href="/css/app.css"></head>\n'
        f"<body>\n  <h1>{title}</h1>\n  <ul>\n{items}\n  </ul>\n</body></html>\n"
    )
