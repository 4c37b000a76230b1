"""The server's heap moved onto huge pages before it forks (`forked`), so that the fork copies
few page tables (issue 19: a live route's worst wait while the first OpenAPI document is made).

A fork copies the parent's page tables while the parent waits, one entry per 4 KiB page: on
the 2-core VM of docs/performance.md about 25-34 us per MiB of heap, 19 ms in a 564 MiB
server of 10,000 model files. And each page either process writes afterwards is copied on a
fault of its own, in whichever process writes it, the server's next requests included. On a
huge page (2 MiB on x86-64; the kernel's `hpage_pmd_size`) a stretch is one entry. Measured
in-process on the eager 10,000-model-file app (849 MiB): the fork 14-20 -> 2-8 ms, writing
3000 of its objects just after it 21-35 -> 7-10 ms; its memory 849 -> 858 MiB.

`collapse` asks the kernel to copy each dense stretch of the heap into a huge page (`madvise`
MADV_COLLAPSE, Linux 6.1), about 2.4 ms per MiB, in the calling thread but without the
interpreter's lock (a ctypes call): called from a thread beside the event loop, the server
keeps serving. Only stretches at least half resident (`mincore`): a huge page fills what was
never touched, and a sparse one (a buffer mostly unused) would grow the memory. Only what is
there now: the mappings are not marked for huge pages (MADV_HUGEPAGE), so under the kernel's
default setting (`madvise`) later faults get none; under `always` they get them anyway. A
system whose administrator turned huge pages off (`never`, which MADV_COLLAPSE would
override) is left alone. Below `WORTH` of memory the fork is a few milliseconds: not worth
seconds of a core; past BUDGET seconds the rest is left as it is (a heap of gigabytes would
otherwise hold the first document back for tens of seconds).

Elsewhere (not Linux, an older kernel, huge pages turned off, no memory for one), nothing
changes: the fork copies what it always did.
"""

from __future__ import annotations

import functools
import mmap
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from .switching import switch_interval_at_most

HUGE = 1 << 21  # a huge page on x86-64 and arm64 with 4 KiB pages (see `huge_page_size`)
WORTH = 256 << 20  # below this much to collapse, the fork pauses < 10 ms
BUDGET = 5.0  # seconds of collapsing at most (about 2 GiB here): the fork waits for it
MADV_COLLAPSE = 25
EINVAL = 22  # no MADV_COLLAPSE in this kernel, or a mapping marked MADV_NOHUGEPAGE
REFUSALS = 3  # mappings refused with EINVAL, none taken yet: the kernel has no MADV_COLLAPSE
SWITCH_INTERVAL = 0.001  # seconds: see `collapse`
DENSE = 0.5  # the share of a stretch that must be resident for it to be collapsed
MINCORE_STRETCHES = 512  # stretches asked of mincore at once (1 GiB: a 256 KiB vector)
THP = Path("/sys/kernel/mm/transparent_hugepage")


class Mapping(NamedTuple):
    """A private anonymous writable mapping of /proc/self/maps: part of the heap."""

    start: int
    end: int

    def stretches(self, huge: int = HUGE) -> range:
        """The start of each whole huge-page stretch inside it."""
        first = -(-self.start // huge) * huge
        return range(first, self.end - huge + 1, huge)


def heap(maps: Iterable[str]) -> list[Mapping]:
    """The private anonymous writable mappings in `maps` (pymalloc's arenas, malloc's heap
    and its mmaps, pydantic-core's allocations, threads' stacks), not the main thread's stack
    nor the kernel's own. From maps, not smaps: smaps walks every page table of the process
    (20 ms at 10,000 files) holding the lock the server's own mmap and munmap then wait for."""
    found = []
    for line in maps:
        parts = line.split()
        if len(parts) < 5:
            continue
        name = parts[5] if len(parts) > 5 else ""
        if (parts[1].startswith("rw") and parts[1].endswith("p") and parts[4] == "0"
                and (name in ("", "[heap]") or name.startswith("[anon:"))):
            start, end = (int(x, 16) for x in parts[0].split("-"))
            found.append(Mapping(start, end))
    return found


def anonymous() -> int:
    """This process's resident anonymous memory, from the kernel's counters (no walk)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) << 10
    return 0


def huge_page_size(thp: Path = THP) -> int:
    """The size of a huge page the kernel would collapse into, or 0: none to be had here
    (no transparent huge pages, or turned off by the administrator: `never`)."""
    try:
        if "[never]" in (thp / "enabled").read_text():
            return 0
        size = int((thp / "hpage_pmd_size").read_text())
    except (OSError, ValueError):
        return 0
    return size if size > 0 and size % mmap.PAGESIZE == 0 else 0


class _Libc(NamedTuple):
    madvise: Callable[[int, int, int], int]
    mincore: Callable[[int, int], bytes | None]  # a byte a page, 0: not; None: not mapped
    errno: Callable[[], int]


@functools.cache
def _libc() -> _Libc | None:
    """libc's madvise and mincore (CDLL: each call lets go of the GIL), or None where there
    are none."""
    if sys.platform != "linux":
        return None
    try:
        import ctypes  # here: only a server that forks pays for the import

        libc = ctypes.CDLL(None, use_errno=True)
        madvise, mincore = libc.madvise, libc.mincore
    except (ImportError, AttributeError, OSError):
        return None
    for call in (madvise, mincore):
        call.restype = ctypes.c_int
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]

    def resident(start: int, length: int) -> bytes | None:
        vector = ctypes.create_string_buffer(length // mmap.PAGESIZE)
        if mincore(start, length, vector) != 0:
            return None
        return vector.raw

    return _Libc(madvise, resident, ctypes.get_errno)


def dense(stretches: range, pages: bytes, huge: int = HUGE) -> list[int]:
    """The stretches at least DENSE resident, by mincore's `pages`."""
    per = huge // mmap.PAGESIZE
    return [start for i, start in enumerate(stretches)
            if per - pages[i * per:(i + 1) * per].count(0) >= DENSE * per]


def dense_stretches(libc: _Libc, stretches: range, huge: int) -> list[int]:
    """The dense stretches of a mapping, asked of mincore a piece at a time (its vector grows
    with the range); a piece with a hole (an arena freed since maps was read) is asked again
    a stretch at a time, so that one hole does not cost the rest."""
    found: list[int] = []
    for at in range(0, len(stretches), MINCORE_STRETCHES):
        piece = stretches[at:at + MINCORE_STRETCHES]
        pages = libc.mincore(piece.start, len(piece) * huge)
        if pages is not None:
            found += dense(piece, pages, huge)
            continue
        for one in (piece[i:i + 1] for i in range(len(piece))):
            pages = libc.mincore(one.start, huge)
            if pages is not None:
                found += dense(one, pages, huge)
    return found


def collapse(worth: int | None = None, stop: threading.Event | None = None,
             budget: float | None = None) -> int:
    """This process's dense heap on huge pages, if it has `worth` (WORTH) of anonymous memory;
    the bytes the kernel took, those already on huge pages included (0: too little, or not to
    be had here). Seconds at 10,000 route files: call it from a thread of its own, never the
    event loop's; it stops early once `stop` is set or `budget` (BUDGET) seconds have gone."""
    libc = _libc()
    huge = huge_page_size() if libc is not None else 0
    if libc is None or not huge:
        return 0
    try:
        if anonymous() < (WORTH if worth is None else worth):
            return 0
        with open("/proc/self/maps") as f:
            mappings = heap(f)
    except OSError:
        return 0
    deadline = time.monotonic() + (BUDGET if budget is None else budget)
    return collapse_mappings(libc, mappings, huge, deadline, stop or threading.Event())


def collapse_mappings(libc: _Libc, mappings: Iterable[Mapping], huge: int, deadline: float,
                      stop: threading.Event) -> int:
    """`collapse`'s work over `mappings`, one call a stretch: one call over a whole mapping
    holds the process's memory map for all of it, and the loop's own mmap and munmap wait
    (34-38 ms at 10,000 files). Between calls this thread needs the GIL back: a short switch
    interval, or the loop keeps it 5 ms each time (the collapse took 4.8 s instead of 2.1)."""
    moved = refused = 0
    with switch_interval_at_most(SWITCH_INTERVAL):
        for mapping in mappings:
            for start in dense_stretches(libc, mapping.stretches(huge), huge):
                if stop.is_set() or time.monotonic() > deadline:
                    return moved
                if libc.madvise(start, huge, MADV_COLLAPSE) == 0:
                    moved += huge
                elif libc.errno() == EINVAL:
                    # this mapping is not to be collapsed (MADV_NOHUGEPAGE); none ever
                    # was after a few: the kernel has no MADV_COLLAPSE (older than 6.1)
                    refused += 1
                    if not moved and refused >= REFUSALS:
                        return moved
                    break
                # else: no huge page to be had now, or the stretch went away: the next one
    return moved
