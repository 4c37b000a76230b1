"""The server's heap moved onto huge pages before it forks (`forked`), so that the fork copies
few page tables (issue 19: a live route's worst wait while the first OpenAPI document is made).

A fork copies the parent's page tables while the parent waits, one entry per 4 KiB page: on
the 2-core VM of docs/performance.md about 25-34 us per MiB of heap, 19 ms in a 564 MiB
server of 10,000 model files. And each page either process writes afterwards is copied on a
fault of its own, in whichever process writes it, the server's next requests included. On a
2 MiB page (Linux's transparent huge pages) a 2 MiB stretch is one entry. Measured in-process
on the eager 10,000-model-file app (849 MiB): the fork 14-20 -> 2-8 ms, writing 3000 of its
objects just after it 21-35 -> 7-10 ms; its memory 849 -> 858 MiB.

`collapse` asks the kernel to copy each dense 2 MiB stretch of the heap into a huge page
(`madvise` MADV_COLLAPSE, Linux 6.1), about 2.4 ms per MiB, in the calling thread but without
the interpreter's lock (a ctypes call): called from a thread beside the event loop, the server
keeps serving. Only stretches at least half resident (`mincore`): a huge page fills what was
never touched, and a sparse one (a buffer mostly unused) would grow the memory. Only what is
there now: the mappings are not marked for huge pages (MADV_HUGEPAGE), so the kernel gives
later faults and its own background collapsing nothing more. Below `WORTH` of memory the
fork is a few milliseconds: not worth seconds of a core.

Elsewhere (not Linux, an older kernel, huge pages turned off, no memory for one), nothing
changes: the fork copies what it always did.
"""

from __future__ import annotations

import functools
import mmap
import sys
from collections.abc import Callable, Iterable
from typing import NamedTuple

from .switching import switch_interval_at_most

HUGE = 1 << 21  # a huge page on x86-64 and arm64 (4 KiB base pages)
WORTH = 256 << 20  # below this much to collapse, the fork pauses < 10 ms
MADV_COLLAPSE = 25
EINVAL = 22  # the kernel has no MADV_COLLAPSE: stop
SWITCH_INTERVAL = 0.001  # seconds: see `collapse`
DENSE = 0.5  # the share of a 2 MiB stretch that must be resident for it to be collapsed


class Mapping(NamedTuple):
    """A private anonymous writable mapping of /proc/self/maps: part of the heap."""

    start: int
    end: int

    def stretches(self) -> range:
        """The start of each whole 2 MiB stretch inside it."""
        first = -(-self.start // HUGE) * HUGE
        return range(first, self.end - HUGE + 1, HUGE)


def heap(maps: Iterable[str]) -> list[Mapping]:
    """The private anonymous writable mappings in `maps` (pymalloc's arenas, malloc's heap
    and its mmaps, pydantic-core's allocations), not stacks or the kernel's own. From maps,
    not smaps: smaps walks every page table of the process (20 ms at 10,000 files) holding
    the lock the server's own mmap and munmap then wait for."""
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


class _Libc(NamedTuple):
    madvise: Callable[[int, int, int], int]
    resident: Callable[[range], bytes | None]  # a byte a page, 0: not; None: not mapped
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

    def resident(stretches: range) -> bytes | None:
        length = len(stretches) * HUGE
        vector = ctypes.create_string_buffer(length // mmap.PAGESIZE)
        if mincore(stretches.start, length, vector) != 0:
            return None
        return vector.raw

    return _Libc(madvise, resident, ctypes.get_errno)


def dense(stretches: range, pages: bytes) -> list[int]:
    """The stretches at least DENSE resident, by mincore's `pages`."""
    per = HUGE // mmap.PAGESIZE
    return [start for i, start in enumerate(stretches)
            if per - pages[i * per:(i + 1) * per].count(0) >= DENSE * per]


def collapse(worth: int | None = None) -> int:
    """This process's dense heap on huge pages, if it has `worth` (WORTH) of anonymous memory;
    the bytes now on huge pages that were asked for, those already on them included (0: too
    little, or not to be had here). Seconds at 10,000 route files: call it from a thread of
    its own, never the event loop's.

    A call a stretch: one call over a whole mapping holds the process's memory map for all of
    it, and the loop's own mmap and munmap wait (34-38 ms at 10,000 files). Between calls this
    thread needs the GIL back: a short switch interval, or the loop keeps it 5 ms each time
    (the collapse took 4.8 s instead of 2.1)."""
    libc = _libc()
    if libc is None or HUGE % mmap.PAGESIZE:
        return 0
    try:
        if anonymous() < (WORTH if worth is None else worth):
            return 0
        with open("/proc/self/maps") as f:
            mappings = heap(f)
    except OSError:
        return 0
    moved = 0
    with switch_interval_at_most(SWITCH_INTERVAL):
        for mapping in mappings:
            stretches = mapping.stretches()
            if not stretches:
                continue
            pages = libc.resident(stretches)
            if pages is None:
                continue  # unmapped since maps was read (another thread freed an arena)
            # not the stretches mostly never touched: a huge page there would fill them
            for start in dense(stretches, pages):
                if libc.madvise(start, HUGE, MADV_COLLAPSE) == 0:
                    moved += HUGE
                elif libc.errno() == EINVAL:
                    return moved  # a kernel older than 6.1
                # else: no huge page to be had now, or the stretch went away: the next one
    return moved
