"""Signal handlers for the length of a serve call.

A server installs handlers (ours for SIGTERM; uvicorn's multi-process supervisor its own, which
it leaves in place): on leaving, every signal a server may handle gets back the handler it had,
so serving in-process (a test, a tool calling `serve`) changes nothing for what runs next.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any]

# What uvicorn (its server, its supervisors) and we may set: put back on leaving.
_SERVED = tuple(getattr(signal, name) for name in (
    "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTTIN", "SIGTTOU",
    "SIGBREAK",
) if hasattr(signal, name))


@contextlib.contextmanager
def handling(signum: int, handler: Handler) -> Iterator[None]:
    """`handler` for `signum` inside the block; outside the main thread, where Python
    refuses handlers, nothing is changed (as uvicorn does there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in _SERVED}
    signal.signal(signum, handler)
    try:
        yield
    finally:
        for sig, previous in saved.items():
            if previous is not None:  # None: set outside Python, not ours to restore
                signal.signal(sig, previous)
