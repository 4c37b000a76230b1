"""`run` serving the OpenAPI document made at build (SPEC 13.2) as `/openapi.json`.

While the document fits (`BakedDocument.unfit`: the same routes, byte for byte, the same
config.py and app.py, the same openapi_url, fastapi-route, FastAPI and pydantic versions, the
same FastAPI arguments from config.py, the same project modules the app imported at the
build), FastAPI's OpenAPI
route answers the stored bytes: no route is made real, no `app.openapi()` runs. Otherwise, or
when openapi.json is missing or does not match its hash when first read, it answers as it does
without a baked document (`runtime.openapi`), after one warning that says why.

What FastAPI adds at request time is added here the same way: a request with a `root_path`
(behind a proxy, or FastAPI's own `root_path`) gets it as the first of `servers` when
`root_path_in_servers` is on and it is not there yet, as FastAPI 0.11x-0.16x's endpoint does.

`app.openapi()` called in-process (a test, a script) is untouched: it makes the document from
the routes, as FastAPI's does. A tree `include`d in the app makes the baked document the
host's no more: the host's routes are its own, so the route answers as it would unbaked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Config
from ..pipeline.baked_openapi import BakedDocument, arguments_digest, changed_since_build
from ..pipeline.cache import Cache
from ..pipeline.freshness import Staleness
from .activity import REQUESTS
from .openapi import MAX_ROOT_PATHS, fastapi_openapi_route, render, with_root_path

log = logging.getLogger("fastapi_route")


def served_body(body: bytes, app: FastAPI, root_path: str) -> bytes:
    """What the app answers for a request with `root_path`, given the stored body."""
    if not (root_path.rstrip("/") and app.root_path_in_servers):
        return body
    return render(with_root_path(json.loads(body), root_path))


class BakedOpenAPI:
    """The app's OpenAPI route answering the stored document while it fits."""

    def __init__(self, app: FastAPI, record: BakedDocument, cache: Path, unfit: str | None,
                 fallback: ASGIApp) -> None:
        self.app = app
        self.record = record
        self.cache = cache
        self.unfit = unfit  # why not, found at start; or found when first read
        self.fallback = fallback  # the route's ASGI app as it was (`runtime.openapi`)
        self.body: bytes | None = None
        self.by_root_path: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.warned = False
        if unfit is not None:
            self._warn()

    def _warn(self) -> None:
        if not self.warned:
            self.warned = True
            log.warning("not serving the OpenAPI document made at build: %s; making it from "
                        "the routes instead (fastapi-route build makes it anew)", self.unfit)

    def _read(self, root_path: str) -> bytes | None:
        """The verified body for this root path (read once), or None: fall back."""
        with self.lock:
            if self.unfit is not None:
                return None
            if self.body is None:
                try:
                    self.body = self.record.read(self.cache)
                except (OSError, ValueError) as exc:
                    self.unfit = f"{exc}"
                    self._warn()
                    return None
            if root_path not in self.by_root_path:
                if len(self.by_root_path) >= MAX_ROOT_PATHS:
                    return served_body(self.body, self.app, root_path)
                self.by_root_path[root_path] = served_body(self.body, self.app, root_path)
            return self.by_root_path[root_path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # `include` adds its trees to our state in app.state (`app.Installed.included`)
        state = getattr(self.app.state, "fastapi_route", None)
        if getattr(state, "included", None) and self.unfit is None:
            with self.lock:
                self.unfit = "the app includes another route tree (its routes are not in it)"
                self._warn()
        body = None
        REQUESTS.begin()  # the warm-up gives way while the document is read and sent
        try:
            if self.unfit is None:  # a 20 MB file read and hashed: off the event loop
                body = await asyncio.to_thread(self._read, scope.get("root_path", ""))
            if body is not None:
                await Response(body, media_type=JSONResponse.media_type)(scope, receive, send)
                return
        finally:
            REQUESTS.end()
        await self.fallback(scope, receive, send)  # it hurries the warm-up itself


def install(app: FastAPI, root: Path, config: Config, cache: Cache, stale: Staleness
            ) -> BakedOpenAPI | None:
    """Serve the cache's document from the app's OpenAPI route, if the build made one.
    Called by `create_app` with a cache (never by `dev`, which scans); config.py's
    build.openapi makes a cache without one worth a warning too."""
    route = fastapi_openapi_route(app)
    record = cache.manifest.openapi
    if route is None or (record is None and not config.build.openapi):
        return None
    if record is None:
        log.warning("config.py sets build.openapi, but the build cache holds no OpenAPI "
                    "document; making it from the routes instead (fastapi-route build)")
        return None
    unfit = record.unfit(fingerprint=cache.manifest.fingerprint,
                         changed=changed_since_build(stale), openapi_url=app.openapi_url,
                         root=root, arguments=arguments_digest(config, root))
    baked = BakedOpenAPI(app, record, root / config.build.cache_dir, unfit, route.app)
    route.app = baked
    return baked
