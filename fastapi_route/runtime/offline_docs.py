"""Swagger UI and ReDoc without a CDN: config.py's `docs = {"offline": True}` (SPEC 14.5).

FastAPI's own pages load their JavaScript, CSS and favicon from a CDN, so on a network with
no way out they are blank. Offline, the app serves those pages itself, with the HTML of
FastAPI's public helpers (`fastapi.openapi.docs`) pointing at files the app serves below each
page's own URL (`/docs/swagger-ui-bundle.js`, `/redoc/redoc.standalone.js`; where, is
`settings.Pages.assets`). The files are those the fastapi-offline package ships (the
`offline-docs` extra; docs/decisions.md says why that one): its folder is found, the package
is never imported, and nothing of it but the files is used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ..config import setting_line
from ..conventions import CONFIG_FILE, DOCS_FILE
from ..errors import ConfigError, Problem, render_problems
from ..settings import Config, Pages, asset_url

PACKAGE = "fastapi_offline"  # the import name of the distribution below
DISTRIBUTION = "fastapi-offline"
EXTRA = "offline-docs"  # fastapi-route's extra that brings it
_FOLDER = "static"  # where the package keeps the files (the same since its 1.5, 2022)
# Named, not guessed from the suffix: the mimetypes table differs between Pythons and systems.
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".png": "image/png"}

# ReDoc's bundle shows a "Redocly" logo from its makers' CDN in every page's footer (and
# hides it when it fails to load). Images from the app only: the browser never asks for it.
REDOC_IMAGES = "img-src 'self' data: blob:"

Endpoint = Callable[[Request], Awaitable[Response]]


def assets_folder(root: Path, config: Config) -> Path | None:
    """The folder holding the files the offline pages load; None when no page needs them
    (docs online, turned off, or docs.py's page in Swagger UI's place and no ReDoc).

    Checked when the app is made (`run`, `dev`, the ASGI entry points, a test's create_app),
    before any route file is imported; not by `build`, whose environment (a wheel's isolated
    build) need not hold the app's dependencies. A missing package is config.py's problem,
    at the line that turns offline docs on."""
    pages = config.pages(docs_page=(root / DOCS_FILE).is_file())
    needed = sorted(set(pages.assets().values()))
    if not needed:
        return None
    folder = _package_folder()
    if folder is not None and all((folder / name).is_file() for name in needed):
        return folder
    if folder is None:
        message = (f"'docs.offline' needs the {DISTRIBUTION} package (it ships Swagger UI's "
                   "and ReDoc's files), which is not installed")
    else:
        missing = ", ".join(name for name in needed if not (folder / name).is_file())
        message = f"'docs.offline' needs {missing} from {DISTRIBUTION}, not found in {folder}"
    hint = (f'pip install "fastapi-route[{EXTRA}]" where the app runs (or add {DISTRIBUTION} '
            'to its dependencies), or set docs = {"offline": False}')
    problem = Problem(CONFIG_FILE, setting_line(root, "docs", "offline"), "INVALID_CONFIG",
                      message, hint)
    raise ConfigError(render_problems([problem]))


def _package_folder() -> Path | None:
    """The package's folder of files, found by the import system without importing it."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):  # a broken or half-removed install
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / _FOLDER


def install(app: FastAPI, pages: Pages, folder: Path) -> None:
    """Add the pages FastAPI would add (its `docs_url` and `redoc_url` were None), with the
    same HTML but local files, and those files; each answers GET and HEAD, none is in the
    schema."""
    document = pages.openapi_url
    if document is None:  # Pages serves neither page without a document
        return
    if pages.swagger_ui and pages.docs_url is not None:
        app.add_route(pages.docs_url, _swagger_ui(app, document, pages.docs_url),
                      include_in_schema=False)
        if pages.oauth2_redirect_url is not None:
            app.add_route(pages.oauth2_redirect_url, _oauth2_redirect, include_in_schema=False)
    if pages.redoc_url is not None:
        app.add_route(pages.redoc_url, _redoc(app, document, pages.redoc_url),
                      include_in_schema=False)
    for url, name in pages.assets().items():
        app.add_route(url, _file(folder / name), include_in_schema=False)


def _root_path(request: Request) -> str:
    """The prefix a proxy or a mount puts before the app's URLs, as FastAPI's own pages
    read it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _swagger_ui(app: FastAPI, document: str, page: str) -> Endpoint:
    async def swagger_ui_html(request: Request) -> Response:
        root = _root_path(request)
        redirect = app.swagger_ui_oauth2_redirect_url
        # What FastAPI's own page passes (read from the app at each request, as it does),
        # and the files' URLs.
        return get_swagger_ui_html(
            openapi_url=root + document,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + redirect if redirect else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
            swagger_js_url=root + asset_url(page, "swagger-ui-bundle.js"),
            swagger_css_url=root + asset_url(page, "swagger-ui.css"),
            swagger_favicon_url=root + asset_url(page, "favicon.png"),
        )

    return swagger_ui_html


async def _oauth2_redirect(request: Request) -> Response:
    return get_swagger_ui_oauth2_redirect_html()  # all inline: nothing to fetch


def _redoc(app: FastAPI, document: str, page: str) -> Endpoint:
    async def redoc_html(request: Request) -> Response:
        root = _root_path(request)
        response = get_redoc_html(
            openapi_url=root + document,
            title=f"{app.title} - ReDoc",
            redoc_js_url=root + asset_url(page, "redoc.standalone.js"),
            redoc_favicon_url=root + asset_url(page, "favicon.png"),
            with_google_fonts=False,  # a stylesheet from Google's servers: not offline
        )
        response.headers["Content-Security-Policy"] = REDOC_IMAGES
        return response

    return redoc_html


def _file(path: Path) -> Endpoint:
    media_type = _MEDIA_TYPES[path.suffix]

    async def asset(request: Request) -> Response:
        return FileResponse(path, media_type=media_type)  # with ETag and Last-Modified

    return asset
