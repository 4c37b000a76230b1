"""Process-wide memo caches that hold route modules, emptied after `dev` swaps in a new table.

A cache entry keyed by a route's function or pydantic model keeps that object alive, and with
it the namespace of its module (a function's `__globals__`, a model's validators): each `dev`
reload would keep every previous generation of the route modules (a route holding a 4 MB
object grew the process by about that much a save). Two libraries keep such caches for the
life of the process:

- FastAPI memoises what it learns about callables and models with `functools.lru_cache`: the
  `_is_*_callable_cached` helpers of `fastapi.dependencies.models` (keyed by every endpoint and
  dependency) and `get_cached_model_fields` in `fastapi._compat` (by every model). These are
  private names, so none is named here: the caches are the functions of those modules that
  carry `cache_clear` (what `functools.lru_cache` and `functools.cache` give).
- Python's `typing` memoises subscriptions (`Annotated[Model, Query()]` holds `Model`) in caches
  whose `cache_clear` it lists in `typing._cleanups`, the list CPython's own test runner
  empties between tests (3.10 to 3.13 alike).

Emptying a memo cache costs one recomputation per entry. If either library moves or drops its
caches nothing breaks: one warning says the memory of old modules may not be given back. A
FastAPI that does not cache (0.110, our floor) has nothing to let go of, and is not warned
about.
"""

from __future__ import annotations

import logging
import sys
import typing
from collections.abc import Callable
from types import ModuleType

log = logging.getLogger("fastapi_route")

# Where FastAPI keeps its callable and model caches (0.1xx): these modules and those below.
FASTAPI_MODULES = ("fastapi.dependencies.models", "fastapi._compat")

Clear = Callable[[], object]
_warned: set[str] = set()


def _defined_caches(module: ModuleType) -> list[Clear]:
    """The `cache_clear` of each function defined in `module` that has one."""
    found = []
    for value in list(vars(module).values()):
        clear = getattr(value, "cache_clear", None)
        if callable(clear) and getattr(value, "__module__", None) == module.__name__:
            found.append(clear)
    return found


def _imports_functools_caching(module: ModuleType) -> bool:
    return any(getattr(value, "__module__", None) == "functools"
               and getattr(value, "__name__", None) in ("lru_cache", "cache")
               for value in list(vars(module).values()))


def fastapi_caches() -> list[Clear] | None:
    """FastAPI's caches; None when its modules import functools' caching but define no cache
    (FastAPI changed how it caches). Modules not imported hold nothing."""
    modules = [module for name, module in list(sys.modules.items())
               if module is not None and any(name == top or name.startswith(top + ".")
                                             for top in FASTAPI_MODULES)]
    found = [clear for module in modules for clear in _defined_caches(module)]
    if not found and any(_imports_functools_caching(module) for module in modules):
        return None
    return found


def typing_caches() -> list[Clear] | None:
    cleanups = getattr(typing, "_cleanups", None)
    if not isinstance(cleanups, list) or not all(callable(f) for f in cleanups):
        return None
    return list(cleanups)


CACHES: dict[str, Callable[[], list[Clear] | None]] = {
    "FastAPI's": fastapi_caches, "Python typing's": typing_caches,
}


def clear_memo_caches() -> int:
    """Empty every cache CACHES finds; how many. Never raises: a library whose caches are not
    found, or refuse, is worth one warning per process."""
    emptied = 0
    for owner, find in CACHES.items():
        try:
            clears = find()
            if clears is None:
                raise LookupError("not found where they were")
            for clear in clears:
                clear()
            emptied += len(clears)
        except Exception as exc:
            if owner not in _warned:
                _warned.add(owner)
                log.warning("fastapi-route: %s caches could not be emptied (%s: %s), so each "
                            "reload may keep the previous route modules in memory; restart "
                            "dev if it grows", owner, type(exc).__name__, exc)
    return emptied
