"""The server's heap moved onto huge pages before a fork (`runtime/hugepages.py`): which
mappings are taken, that the kernel really backs them with huge pages, and that nothing sparse
is filled in. The kernel's work is measured in docs/performance.md, never here."""

from __future__ import annotations

import ctypes
import mmap
import sys

import pytest
from conftest import huge_pages_collapse

from fastapi_route.runtime import hugepages

MIB = 1 << 20
needs_thp = pytest.mark.skipif(not huge_pages_collapse(),
                               reason="no MADV_COLLAPSE or huge pages off here")

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
