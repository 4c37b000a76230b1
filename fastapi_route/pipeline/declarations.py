"""The rules for `_layout.py` and `app.py`, checked from their top-level names (SPEC 9).

Both files say, as module-level names, what one would pass to `APIRouter(...)` or
`FastAPI(...)`. The build reads them with `ast` and runs nothing, so a misspelt name (which
Python would silently ignore) is caught with its line before any server starts.
"""

from __future__ import annotations

import difflib

from ..bindings import Binding
from ..conventions import APP_NAMES, LAYOUT_NAMES
from ..errors import Problem
from .scan import Declarations

_LAYOUT_HINT = "a layout sets " + ", ".join(LAYOUT_NAMES) + "; prefix its own helpers with '_'"
_APP_HINT = "app.py sets " + ", ".join(APP_NAMES) + "; rename the app's own names further from them"


def _is_own(binding: Binding) -> bool:
    """Imports, `_private` names, functions and classes are the file's own business."""
    return binding.kind in ("import", "function", "class") or binding.name.startswith("_")


def check_layout(layout: Declarations) -> list[Problem]:
    problems: list[Problem] = []

    def bad(binding: Binding, message: str, hint: str) -> None:
        problems.append(Problem(layout.file, binding.line, "INVALID_LAYOUT", message, hint))

    for b in layout.bindings:
        if b.name == "prefix":
            bad(b, "'prefix' is not a layout setting: the folder is the prefix",
                "remove it; move the layout's folder to change the URL")
        elif b.name == "middleware" and b.kind != "import":
            if b.kind != "function" or not b.is_async or b.positional != 2:
                bad(b, "'middleware' must be an async function of (request, call_next)",
                    "write async def middleware(request, call_next): ...")
        elif b.name in LAYOUT_NAMES:
            if b.kind in ("function", "class"):
                bad(b, f"'{b.name}' is a setting, not a {b.kind}",
                    f"assign it: {b.name} = ...")
        elif not _is_own(b):
            bad(b, f"'{b.name}' is not a layout setting", _LAYOUT_HINT)
    return problems


# What each app.py setting may be bound by, when a build can tell (an import: it cannot).
_APP_KINDS = {
    "lifespan": ("function", "value"),
    "exception_handlers": ("value",),
    "middleware": ("value",),
    "configure": ("function", "value"),
}
_APP_SHAPES = {
    "lifespan": "an @asynccontextmanager function of (app)",
    "exception_handlers": "a dict of exception class or status code to handler",
    "middleware": "a list of Middleware(...) (a middleware function goes in middleware.py)",
    "configure": "a plain function of (app)",
}


def check_app(app: Declarations) -> list[Problem]:
    """app.py also holds the app's own state (`ml_models = {}`, which a lifespan fills and
    routes import), so only a name that looks like a misspelt setting is refused."""
    problems: list[Problem] = []
    for b in app.bindings:
        if b.name in _APP_KINDS and b.kind != "import":
            wrong_kind = b.kind not in _APP_KINDS[b.name]
            # configure runs once, synchronously, when the app is built: not a coroutine.
            bad_configure = b.name == "configure" and b.kind == "function" and (
                b.is_async or b.positional != 1)
            if wrong_kind or bad_configure:
                problems.append(Problem(
                    app.file, b.line, "INVALID_APP", f"{b.name} must be {_APP_SHAPES[b.name]}",
                    "write def configure(app): ..." if b.name == "configure" else _APP_HINT,
                ))
        elif b.name not in APP_NAMES and b.kind in ("value", "function"):
            # A function can only be meant as one of the function settings.
            settings = APP_NAMES if b.kind == "value" else ("lifespan", "configure")
            meant = difflib.get_close_matches(b.name.lower(), settings, n=1, cutoff=0.85)
            if meant:
                problems.append(Problem(
                    app.file, b.line, "INVALID_APP",
                    f"'{b.name}' is not an app.py setting: did you mean '{meant[0]}'?",
                    _APP_HINT,
                ))
    return problems
