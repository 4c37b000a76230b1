"""The garbage collector during a start: held back while the app is made, then what was made
frozen, for the starts that end in serving at once (`run --lazy`, a Lambda's cold start).

A start allocates tens of thousands of objects (FastAPI's and pydantic's import, the cache's
table, the app); each 700 of them set off a young collection, and every tenth of those walks
more, up to full collections over everything FastAPI and pydantic made at import: one took
60 ms of a 300 ms cold start at 1000 route files (docs/performance.md, "AWS Lambda cold
start"). Nothing made then is garbage worth a walk: it lives as long as the process.

And the C allocator after a peak that is over (`give_back`: the first OpenAPI document).
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def held_back() -> Iterator[None]:
    """No garbage collection for the length of the block; the collector as it was after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def keep() -> None:
    """What the start made stays for the process: out of every later collection's walk.
    Without the young collection other freezes make first (SERVING.freeze): with the
    collector held back, the young generation is the whole start (60,000 objects, 15 ms to
    walk at 1000 route files) and only a few hundred of them are garbage."""
    gc.freeze()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, looked up once; None where there is none (musl, macOS, Windows)."""
    try:
        import ctypes  # here: only a process that gives memory back pays for the import

        # CDLL, not PyDLL: the call lets go of the GIL while it walks the heap
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):  # no such symbol, or no C library to ask
        return None
    return trim


def give_back() -> bool:
    """What the C allocator keeps from a peak that is over, given back to the system; whether
    it could be asked (glibc's `malloc_trim(0)`; elsewhere nothing is done).

    After a one-off peak (the first OpenAPI document: at 1000 route files, about 80 MiB made
    and dropped again, tens of thousands of short-lived objects and strings), glibc keeps the
    freed chunks inside its heap for later allocations: RSS stays near the peak. Most of it is
    free memory between objects that live on, which only `malloc_trim` hands back (page by
    page, `madvise`); at 1000 route files it takes 2 ms, off the GIL."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
