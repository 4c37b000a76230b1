"""Pydantic's question about a builtin `default_factory`, answered once per process.

Pydantic (2.10 and later) asks whether a field's `default_factory` takes the validated data
(`pydantic._internal._fields.takes_validated_data_argument`, through `inspect.signature`)
each time it builds a schema with the field: when the model class is made, and again for each
`TypeAdapter` FastAPI makes of the model's fields (three walks over every model while the
first `/openapi.json` is made). For a builtin such as `list`, CPython reads the signature from
its text form and copies `sys.modules` on each call (`inspect._signature_fromstr`), and the copy
stays in a reference cycle until a collection: an app that registers a module per route file
pays a copy of a dictionary that grows with the tree, and its young collections walk them
(2.6 s of the imports and most of 11 s of young collections in the document at 10,000 files,
docs/performance.md).

The answer for a builtin type (`list`, `dict`, `set`, ...) or a builtin function (`time.time`,
`datetime.now`) cannot change while the process lives, so it is remembered, keyed by the
factory; any other factory (a lambda, a class of the user's, a `partial`) is asked as before
(it costs no copy). Pydantic's function is a private one: if a pydantic that should have it
(2.10+) no longer has it where it was, one warning says so and pydantic is left as it is
(slower with many route files, never wrong). Pydantic 1 and 2.0-2.9 never ask: nothing to do.
The answers being pydantic's own, it stays in place for the life of the process (a host
app's models, sharing pydantic, get the same answers sooner).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
import types
from collections.abc import Callable
from typing import Any

log = logging.getLogger("fastapi_route")

NAME = "takes_validated_data_argument"
# Where pydantic keeps the function (`_fields`) and where it calls it by the name it imported
# (`_generate_schema`; `FieldInfo` calls it through `_fields`), 2.10 to 2.14 alike.
HOMES = ("pydantic._internal._fields", "pydantic._internal._generate_schema")
SINCE = (2, 10)

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made at run time (its signature may change)
_lock = threading.Lock()
_installed: bool | None = None  # None: not tried yet


def lasting(factory: object) -> bool:
    """A builtin type, or a builtin function of a module or of a builtin type: its signature is
    its text signature, the same for the life of the process, and keeping it costs nothing."""
    if isinstance(factory, type):
        return not factory.__flags__ & _HEAPTYPE
    if isinstance(factory, types.BuiltinFunctionType):
        owner = factory.__self__
        return isinstance(owner, types.ModuleType) or (
            isinstance(owner, type) and not owner.__flags__ & _HEAPTYPE)
    return False


def remembering(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """`original` with its answers for lasting factories remembered."""
    answers: dict[object, bool] = {}

    def takes_validated_data_argument(default_factory: Any) -> bool:
        if not lasting(default_factory):
            return original(default_factory)
        answer = answers.get(default_factory)
        if answer is None:
            answer = answers[default_factory] = bool(original(default_factory))
        return answer

    takes_validated_data_argument.__wrapped__ = original  # type: ignore[attr-defined]
    takes_validated_data_argument.__fastapi_route__ = True  # type: ignore[attr-defined]
    takes_validated_data_argument.__doc__ = original.__doc__
    return takes_validated_data_argument


def _version() -> tuple[int, int]:
    from pydantic.version import VERSION

    major, minor = VERSION.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def _expected(original: object) -> bool:
    """Pydantic's function as it was: one positional parameter, the factory."""
    if not callable(original):
        return False
    try:
        parameters = list(inspect.signature(original).parameters.values())
    except (TypeError, ValueError):
        return False
    return len(parameters) == 1 and parameters[0].kind in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def remember_factory_checks() -> bool:
    """Put the remembering check in pydantic's place, once per process; whether it is there.
    Never raises: a pydantic that moved it gets one warning and is left as it is."""
    global _installed
    with _lock:
        if _installed is None:
            _installed = _install()
        return _installed


def _install() -> bool:
    try:
        if _version() < SINCE:
            return False  # pydantic 1, or 2.0-2.9: it never asks
        homes = [importlib.import_module(name) for name in HOMES]
        original = getattr(homes[0], NAME, None)
        if getattr(original, "__fastapi_route__", False):
            return True  # put there already (this module imported twice)
        if not _expected(original):
            raise LookupError(f"{HOMES[0]}.{NAME} is not the function it was")
        assert original is not None
        replacement = remembering(original)
        for home in homes:  # only where the name is pydantic's own function
            if getattr(home, NAME, None) is original:
                setattr(home, NAME, replacement)
        return True
    except Exception as exc:
        log.warning("fastapi-route: pydantic's check of a default_factory was not found "
                    "where it was (%s: %s), so each Field(default_factory=list) and the "
                    "like copies sys.modules as pydantic makes its schema: slower with "
                    "many route files, no other change", type(exc).__name__, exc)
        return False
