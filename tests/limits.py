"""Shared test helpers: a wall-clock limit for code that must never hang, and a small tree."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class Hang(Exception):
    """Not an OSError (as TimeoutError is), so a loader catching OSError cannot swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread if the block runs longer than `seconds` (POSIX)."""

    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# A small tree with static, dynamic and catch-all routes and two methods in one file.
SMALL_TREE = {
    "routes/index.py": "def GET(request):\n    return {}\n",
    "routes/users/route.py": (
        "def GET(request):\n    return []\n\ndef POST(request):\n    return {}\n"
    ),
    "routes/users/[user_id]/route.py": "def GET(request, user_id: int):\n    return {}\n",
    "routes/docs/[...slug]/route.py": "def GET(request, slug):\n    return slug\n",
}
