"""The path a route matches: the request's path without the app's `root_path`.

Starlette's routes match against `starlette._utils.get_route_path(scope)`, a private name; we
use the same function wherever it exists, so our matching (dispatch, lazy routes, public/)
agrees with Starlette's exactly. Where it has moved, `strip_root_path` (Starlette 1.x's rule,
written out) takes its place.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import Scope


def strip_root_path(scope: Scope) -> str:
    """`path` minus `root_path` when `path` starts with it as whole segments: `/api/users`
    under `/api` is `/users`, `/api` is ``, and `/apis` stays `/apis`."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path):]
    return path


def _starlettes() -> Callable[[Scope], str]:
    try:
        from starlette._utils import get_route_path
    except ImportError:
        return strip_root_path
    return get_route_path


get_route_path = _starlettes()
