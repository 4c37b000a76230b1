"""The rules for `_layout.py` and `app.py` (SPEC 9), each with its one wording.

Both files say, as module-level names, what one would pass to `APIRouter(...)` or
`FastAPI(...)`. The build reads them with `ast` and runs nothing, so a misspelt name (which
Python would silently ignore) is caught with its line before any server starts. Each setting's
rule is a `Setting`: the build checks what the AST shows (`Setting.refusal`: what binds the
name, and the shape of a literal value), the runtime what only the import can tell
(`Setting.wrong_value`), both in the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..bindings import Binding, Value
from ..conventions import APP_NAMES, LAYOUT_NAMES
from ..errors import FastAPIRouteError, Problem

if TYPE_CHECKING:
    from .scan import Declarations

# Whether a value's shape may be right. A value that is not a literal (a name, a call) always
# may: only the import can tell (`Setting.wrong_value`).
Shape = Callable[[Value], bool]


def _any(value: Value) -> bool:
    return True


def _not_a_literal(value: Value) -> bool:
    """`Depends(f)`, `Middleware(...)`, a name: what no literal can be."""
    return not value.is_literal


def _one_of(*kinds: str) -> Shape:
    def shape(value: Value) -> bool:
        return not value.is_literal or value.kind in kinds
    return shape


def _sequence_of(item: Shape) -> Shape:
    """A list or tuple literal, each element of which may be `item`."""
    def shape(value: Value) -> bool:
        return not value.is_literal or (value.is_sequence and all(map(item, value.items)))
    return shape


def _dict_of(key: Shape, item: Shape, *, or_none: bool = False) -> Shape:
    def shape(value: Value) -> bool:
        if not value.is_literal or (or_none and value.kind == "none"):
            return True
        return value.kind == "dict" and all(map(key, value.keys)) and all(map(item, value.items))
    return shape


@dataclass(frozen=True)
class Setting:
    """One name a layout or app.py sets, and what it must be."""

    name: str
    must_be: str  # "a list of tag names"
    hint: str
    kinds: tuple[str, ...] = ("value",)  # what may bind it, as the AST shows (a value: a list)
    signature: tuple[bool, int] | None = None  # a def binding it: (async, positional params)
    shape: Shape = _any  # what a value bound to it may look like in the source

    @property
    def message(self) -> str:
        return f"{self.name} must be {self.must_be}"

    def refusal(self, b: Binding) -> str | None:
        """The message, when the AST already shows that the binding breaks the rule (for an
        import, or a value that is not a literal, it cannot tell: the runtime checks what
        was imported)."""
        if b.kind == "import":
            return None
        if b.kind not in self.kinds:
            return self.message
        if b.kind == "function":
            wrong = self.signature is not None and (b.is_async, b.positional) != self.signature
            return self.message if wrong else None
        if b.value is not None and not self.shape(b.value):
            return f"{self.message}, got {b.value.source}"  # the runtime's words: `got {!r}`
        return None

    def wrong_value(self, file: str, value: Any) -> FastAPIRouteError:
        """The runtime's refusal of an imported value, in the build's words."""
        return FastAPIRouteError(f"{file}: {self.message}, got {value!r}", self.hint)


def _table(*settings: Setting) -> dict[str, Setting]:
    return {s.name: s for s in settings}


# One rule for app.py's and a layout's (SPEC 14.2): what FastAPI(exception_handlers=...) takes.
_EXCEPTION_HANDLERS = Setting(
    "exception_handlers", "a dict of exception class or status code to handler",
    "write exception_handlers = {404: handler, MyError: my_handler}, as "
    "FastAPI(exception_handlers=...) takes them", shape=_dict_of(_one_of("int"), _one_of("lambda")))

LAYOUT_SETTINGS = _table(
    Setting("dependencies", "a list of Depends(...)",
            "write dependencies = [Depends(check)], as APIRouter(dependencies=...) takes them",
            shape=_sequence_of(_not_a_literal)),
    Setting("tags", "a list of tag names", "write tags = ['users'], as APIRouter(tags=...) "
            "takes them", shape=_sequence_of(_one_of("str"))),
    Setting("responses", "a dict of status code to response description",
            "write responses = {404: {'description': 'Not found'}}, as APIRouter(responses=...) "
            "takes them", shape=_dict_of(_one_of("int", "str"), _one_of("dict"), or_none=True)),
    Setting("deprecated", "True or False", "write deprecated = True",
            shape=_one_of("bool", "none")),
    Setting("include_in_schema", "True or False", "write include_in_schema = False",
            shape=_one_of("bool")),
    Setting("middleware", "an async function of (request, call_next)",
            "write async def middleware(request, call_next): ...", ("function",), (True, 2)),
    _EXCEPTION_HANDLERS,
)
APP_SETTINGS = _table(
    Setting("lifespan", "an @asynccontextmanager function of (app)",
            "write @asynccontextmanager async def lifespan(app): ..., as FastAPI(lifespan=...) "
            "takes it", ("function", "value"), shape=_one_of("none", "lambda")),
    _EXCEPTION_HANDLERS,
    Setting("middleware", "a list of starlette.middleware.Middleware(...) (a middleware "
            "function goes in middleware.py)", "write middleware = [Middleware(GZipMiddleware)], "
            "as FastAPI(middleware=...) takes them", shape=_sequence_of(_not_a_literal)),
    # configure runs once, synchronously, when the app is built: not a coroutine.
    Setting("configure", "a plain function of (app)", "write def configure(app): ...",
            ("function", "value"), (False, 1), shape=_one_of("none", "lambda")),
)

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
        setting = LAYOUT_SETTINGS.get(b.name)
        if setting is not None:
            refusal = setting.refusal(b)
            if refusal is not None:
                bad(b, refusal, setting.hint)
        elif b.name == "prefix":
            bad(b, "'prefix' is not a layout setting: the folder is the prefix",
                "remove it; move the layout's folder to change the URL")
        elif not _is_own(b):
            bad(b, f"'{b.name}' is not a layout setting", _LAYOUT_HINT)
    return problems


# A function can only be meant as one of the settings a function may bind.
_APP_FUNCTIONS = tuple(s.name for s in APP_SETTINGS.values() if "function" in s.kinds)


def check_app(app: Declarations) -> list[Problem]:
    """app.py also holds the app's own state (`ml_models = {}`, which a lifespan fills and
    routes import), so only a name that looks like a misspelt setting is refused."""
    problems: list[Problem] = []
    for b in app.bindings:
        setting = APP_SETTINGS.get(b.name)
        if setting is not None:
            refusal = setting.refusal(b)
            if refusal is not None:
                problems.append(Problem(app.file, b.line, "INVALID_APP", refusal, setting.hint))
        elif b.kind in ("value", "function"):
            settings = APP_NAMES if b.kind == "value" else _APP_FUNCTIONS
            import difflib  # only for a misspelt name

            meant = difflib.get_close_matches(b.name.lower(), settings, n=1, cutoff=0.85)
            if meant:
                problems.append(Problem(
                    app.file, b.line, "INVALID_APP",
                    f"'{b.name}' is not an app.py setting: did you mean '{meant[0]}'?",
                    _APP_HINT,
                ))
    return problems
