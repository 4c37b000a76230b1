"""How often the interpreter lets another thread run: shorter while our work runs in a thread
beside the event loop, so that the loop gets the interpreter back soon after it asks.

A thread that holds the interpreter keeps it until the switch interval passes (5 ms by
default) whenever another thread asks for it. Three of our jobs run in a thread while the
loop serves: `dev`'s reload, the first `/openapi.json` and the heap's move onto huge pages
before a fork (`hugepages`). They may overlap, so the interval is
set here, counted: the shortest any job under way asked for, and the interval from before
the first of them once the last one is done (saving and restoring it in each job would leave
the short one set for good when they interleave).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_asked: list[float] = []  # one entry per job under way
_before = 0.0  # the interval before the first of them


@contextlib.contextmanager
def switch_interval_at_most(seconds: float) -> Iterator[None]:
    """The switch interval at most `seconds` for the length of the block."""
    global _before
    with _lock:
        if not _asked:
            _before = sys.getswitchinterval()
        _asked.append(seconds)
        sys.setswitchinterval(min([_before, *_asked]))
    try:
        yield
    finally:
        with _lock:
            _asked.remove(seconds)
            sys.setswitchinterval(min([_before, *_asked]))
