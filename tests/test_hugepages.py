"""The server's heap moved onto huge pages before a fork (`runtime/hugepages.py`): which
mappings are taken, that the kernel really backs them with huge pages, and that nothing sparse
is filled in. The kernel's work is measured in docs/performance.md, never here."""

from __future__ import annotations

import ctypes
import mmap
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import huge_pages_on_request_only

from fastapi_route.runtime import hugepages

MIB = 1 << 20
HUGE = hugepages.HUGE
# Real huge pages, and only where asked for: under `always` a fault may get one anyway.
needs_thp = pytest.mark.skipif(not huge_pages_on_request_only(),
                               reason="no MADV_COLLAPSE, or huge pages off or always on here")

MAPS = """\
55d5c2e4a000-55d5c2e6b000 r--p 00000000 08:01 1234                       /usr/bin/python3
55d5c3000000-55d5c3a00000 rw-p 00000000 00:00 0                          [heap]
7f0000100000-7f0000900000 rw-p 00000000 00:00 0
7f0002000000-7f0002800000 rw-s 00000000 00:01 99                         /dev/zero (deleted)
7f0003000000-7f0003800000 rw-p 00000000 08:01 777                        /data/file.bin
7f0004000000-7f0004400000 rw-p 00000000 00:00 0                          [anon:cpython:pymalloc]
7f0005000000-7f0005800000 rw-p 00000000 00:00 0                          [stack]
7f0006000000-7f0006800000 r--p 00000000 00:00 0
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
"""


def test_the_heap_is_the_private_anonymous_writable_mappings() -> None:
    """malloc's heap, a plain anonymous mapping, a named pymalloc arena; not a file, a shared
    mapping, a stack, nor one that cannot be written."""
    assert hugepages.heap(MAPS.splitlines()) == [
        hugepages.Mapping(0x55D5C3000000, 0x55D5C3A00000),
        hugepages.Mapping(0x7F0000100000, 0x7F0000900000),
        hugepages.Mapping(0x7F0004000000, 0x7F0004400000),
    ]


def test_only_whole_aligned_stretches_are_collapsed() -> None:
    mapping = hugepages.Mapping(0x7F0000100000, 0x7F0000900000)
    stretches = mapping.stretches()
    assert list(stretches) == [0x7F0000200000, 0x7F0000400000, 0x7F0000600000]
    assert not hugepages.Mapping(0x1000, 0x201000).stretches()


def test_elsewhere_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    hugepages._libc.cache_clear()
    try:
        assert hugepages.collapse(0) == 0
    finally:
        monkeypatch.undo()
        hugepages._libc.cache_clear()


def huge_bytes() -> int:
    with open("/proc/self/smaps_rollup") as f:
        return next(int(line.split()[1]) << 10 for line in f
                    if line.startswith("AnonHugePages:"))


@needs_thp
def test_the_heap_goes_onto_huge_pages() -> None:
    """64 MiB of live Python objects: after `collapse`, the kernel reports huge pages under
    this process's anonymous memory."""
    kept = [[i, str(i)] for i in range(500_000)]
    before = huge_bytes()
    moved = hugepages.collapse(0)
    assert moved >= 16 * MIB
    assert huge_bytes() >= before + 16 * MIB
    assert len(kept) == 500_000


@needs_thp
def test_a_process_with_too_little_memory_is_left_as_it_is() -> None:
    assert 0 < hugepages.anonymous() < 1 << 50
    before = huge_bytes()
    assert hugepages.collapse(1 << 50) == 0
    assert huge_bytes() <= before


def resident(start: int, length: int) -> int:
    """The resident bytes of [start, start + length), by the kernel's own count (mincore)."""
    pages = length // mmap.PAGESIZE
    vector = (ctypes.c_ubyte * pages)()
    assert ctypes.CDLL(None).mincore(ctypes.c_void_p(start), ctypes.c_size_t(length),
                                     vector) == 0
    return (pages - bytes(vector).count(0)) * mmap.PAGESIZE


@needs_thp
def test_a_mostly_untouched_mapping_is_not_filled_in() -> None:
    """A 64 MiB buffer with one byte written per 64 KiB (a page in 16: 4 MiB resident, more
    than a huge page's worth) stays that small, whatever mapping it joins: a huge page there
    would make memory of what was never used. Its dense neighbour goes onto huge pages."""
    private = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS  # what malloc maps (mmap's default: shared)
    sparse, dense = (mmap.mmap(-1, 64 * MIB, flags=private) for _ in range(2))
    try:
        for offset in range(0, 64 * MIB, 64 << 10):
            sparse[offset] = 1
        dense.write(b"x" * (64 * MIB))
        view = ctypes.c_char.from_buffer(sparse)
        start = ctypes.addressof(view)
        del view  # the mmap cannot close while a view of it lives
        first = resident(start, 64 * MIB)
        assert first == 1024 * mmap.PAGESIZE
        before = huge_bytes()
        hugepages.collapse(0)
        assert resident(start, 64 * MIB) == first
        assert huge_bytes() >= before + 16 * MIB
    finally:
        sparse.close()
        dense.close()


class Kernel:
    """mincore and madvise as the kernel answers them, for `collapse_mappings`: `holes` are
    unmapped pages (mincore fails over them), `sparse` stretches have one page in 16
    resident, `refused` mappings answer EINVAL (marked MADV_NOHUGEPAGE)."""

    def __init__(self, holes: tuple[int, ...] = (), sparse: tuple[int, ...] = (),
                 refused: tuple[hugepages.Mapping, ...] = (),
                 on_call: Callable[[int], None] = lambda start: None) -> None:
        self.holes, self.sparse, self.refused, self.on_call = holes, sparse, refused, on_call
        self.collapsed: list[int] = []
        self.asked: list[tuple[int, int]] = []
        self.error = 0

    def mincore(self, start: int, length: int) -> bytes | None:
        self.asked.append((start, length))
        if any(start <= hole < start + length for hole in self.holes):
            return None
        pages = bytearray(b"\x01" * (length // mmap.PAGESIZE))
        for stretch in self.sparse:
            if start <= stretch < start + length:
                at = (stretch - start) // mmap.PAGESIZE
                for i in range(HUGE // mmap.PAGESIZE):
                    pages[at + i] = i % 16 == 0
        return bytes(pages)

    def madvise(self, start: int, length: int, advice: int) -> int:
        assert (length, advice) == (HUGE, hugepages.MADV_COLLAPSE) and start % HUGE == 0
        self.on_call(start)
        if any(m.start <= start < m.end for m in self.refused):
            self.error = hugepages.EINVAL
            return -1
        self.collapsed.append(start)
        return 0

    def libc(self) -> hugepages._Libc:
        return hugepages._Libc(self.madvise, self.mincore, lambda: self.error)


def stretch(n: int) -> int:
    return 0x7F0000000000 + n * HUGE


def mapping(first: int, count: int) -> hugepages.Mapping:
    return hugepages.Mapping(stretch(first), stretch(first + count))


def collapsed(kernel: Kernel, mappings: list[hugepages.Mapping], deadline: float = 1e18,
              stop: threading.Event | None = None) -> int:
    return hugepages.collapse_mappings(kernel.libc(), mappings, HUGE, deadline,
                                       stop or threading.Event())


def test_every_dense_stretch_is_collapsed_and_a_sparse_one_is_not() -> None:
    kernel = Kernel(sparse=(stretch(2),))
    assert collapsed(kernel, [mapping(0, 4)]) == 3 * HUGE
    assert kernel.collapsed == [stretch(0), stretch(1), stretch(3)]


def test_a_mapping_refused_is_skipped_and_the_next_one_collapsed() -> None:
    """EINVAL for one mapping (marked MADV_NOHUGEPAGE by its owner) leaves the rest of it,
    not the heap: the next mapping is collapsed."""
    refused, taken = mapping(0, 3), mapping(10, 2)
    kernel = Kernel(refused=(refused,))
    assert collapsed(kernel, [refused, taken]) == 2 * HUGE
    assert kernel.collapsed == [stretch(10), stretch(11)]


def test_a_kernel_without_madv_collapse_is_asked_only_a_few_times() -> None:
    """EINVAL from mapping after mapping, none ever taken: no MADV_COLLAPSE in this kernel."""
    mappings = [mapping(10 * i, 2) for i in range(20)]
    calls: list[int] = []
    kernel = Kernel(refused=tuple(mappings), on_call=calls.append)
    assert collapsed(kernel, mappings) == 0
    assert len(calls) == hugepages.REFUSALS


def test_a_hole_costs_only_its_stretch() -> None:
    """An arena freed since maps was read: mincore fails over the piece that holds it, which
    is asked again a stretch at a time; the other stretches are still collapsed."""
    kernel = Kernel(holes=(stretch(5) + 4096,))
    assert collapsed(kernel, [mapping(0, 8)]) == 7 * HUGE
    assert stretch(5) not in kernel.collapsed
    assert (stretch(0), 8 * HUGE) in kernel.asked  # the whole piece first


def test_mincore_is_asked_a_piece_at_a_time() -> None:
    count = hugepages.MINCORE_STRETCHES + 3
    kernel = Kernel()
    assert collapsed(kernel, [mapping(0, count)]) == count * HUGE
    assert [length // HUGE for _, length in kernel.asked] == [hugepages.MINCORE_STRETCHES, 3]


def test_it_stops_when_told_and_past_its_budget() -> None:
    stop = threading.Event()
    kernel = Kernel(on_call=lambda start: stop.set())
    assert collapsed(kernel, [mapping(0, 8)], stop=stop) == HUGE
    late = Kernel()
    assert collapsed(late, [mapping(0, 8)], deadline=time.monotonic() - 1) == 0
    assert late.collapsed == []


@pytest.mark.parametrize(("enabled", "size", "expected"), [
    ("always [madvise] never\n", "2097152\n", 2 << 20),
    ("[always] madvise never\n", "2097152\n", 2 << 20),
    ("always madvise [never]\n", "2097152\n", 0),  # the administrator's choice holds
    ("always [madvise] never\n", None, 0),
    ("always [madvise] never\n", "garbage\n", 0),
    (None, None, 0),  # no transparent huge pages in this kernel
])
def test_the_huge_page_size_is_the_kernels(tmp_path: Path, enabled: str | None,
                                           size: str | None, expected: int) -> None:
    for name, text in (("enabled", enabled), ("hpage_pmd_size", size)):
        if text is not None:
            (tmp_path / name).write_text(text)
    assert hugepages.huge_page_size(tmp_path) == expected
