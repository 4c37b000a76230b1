"""OpenAPI that reads as if written by hand (SPEC 9): operation ids and summaries.

Pure functions of the route table, so that `build` can refuse an `@route(operation_id=...)`
that collides with another route's id, and eager and lazy apps name every route alike.

FastAPI's defaults come from the route's name and path (`read_item_items__item_id__get`,
summary "Read Item"); a file router's endpoint names are all GET or POST, which would give
ids like `GET__items__item_id__items__item_id__get`, and client generators turn ids into
method names. So each operation gets an id from its method and URL words, unique in the app.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

from .conventions import Template
from .table import RouteEntry

_NOT_WORD = re.compile(r"[^0-9a-z]+")


def base_operation_id(route: RouteEntry) -> str:
    """A route's operation id before a number makes it unique (`operation_ids`)."""
    return _words_of(f"{route.method} {route.path}")


# Keyed by one str, not a (method, path) tuple: see `conventions.memo_by_text`.
@functools.lru_cache(maxsize=1 << 16)  # dev names the whole table at each save
def _words_of(route: str) -> str:
    # The route's own template (`RouteEntry.template`, memoised per path): the one the
    # dispatcher and the stand-ins parse too, not a second parse of the same path.
    method, _, path = route.partition(" ")
    words = [method.lower()]
    words.extend(p.param or p.text for p in Template.parse(path, own=True).pieces)
    text = _NOT_WORD.sub("_", "_".join(words).lower()).strip("_")
    return text if len(words) > 1 else f"{text}_root"  # GET / -> get_root


def operation_ids(routes: Iterable[RouteEntry]) -> dict[RouteEntry, str]:
    """`get_users_user_id`, `post_items`, ... for each HTTP route; two routes whose words
    agree (`/a-b` and `/a_b`) get `_2`, `_3` in table order, so ids stay unique."""
    ids: dict[RouteEntry, str] = {}
    taken: set[str] = set()
    for r in routes:
        if r.is_websocket:
            continue  # OpenAPI does not describe websockets
        base = candidate = base_operation_id(r)
        n = 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        ids[r] = candidate
    return ids


def describe(func: Callable[..., Any], route: RouteEntry) -> tuple[str, str]:
    """The summary (the docstring's first line, else `GET /users/{user_id}`) and the
    description (the rest of the docstring)."""
    doc = inspect.getdoc(func) or ""
    first, _, rest = doc.partition("\n")
    return first.strip() or f"{route.method} {route.template.openapi_path}", rest.strip()
