"""The garbage collector during a start: held back while the app is made, then what was made
frozen, for the starts that end in serving at once (`run --lazy`, a Lambda's cold start).

A start allocates tens of thousands of objects (FastAPI's and pydantic's import, the cache's
table, the app); each 700 of them set off a young collection, and every tenth of those walks
more, up to full collections over everything FastAPI and pydantic made at import: one took
60 ms of a 300 ms cold start at 1000 route files (docs/performance.md, "AWS Lambda cold
start"). Nothing made then is garbage worth a walk: it lives as long as the process.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


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
