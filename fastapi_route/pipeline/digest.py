"""What says a file is the one read before: the digest of its bytes, which the build records
beside what it read from the file and the stale check compares, and its stamp, which tells
without reading it that it was not written since (the stale check, `dev`'s facts). Their own
module, so that the check at every start needs neither the walk's nor the scan's code."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable

# A file's (modification time, change time in ns, size). The ctime is the kernel's: no tool
# can set it back, as `tar`, `rsync -t`, `cp -p` or `touch -r` set an mtime.
Stamp = tuple[int, int, int]


def digest(chunks: Iterable[bytes]) -> str:
    """A file's digest, from its bytes in one or more pieces."""
    hashed = hashlib.blake2b(digest_size=16)
    for chunk in chunks:
        hashed.update(chunk)
    return hashed.hexdigest()


def stamp_of(path: str) -> Stamp | None:
    """A regular file's stamp; None for anything else or nothing. (On Windows st_ctime is the
    creation time: the mtime still moves with every edit.)"""
    try:
        found = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    return (found.st_mtime_ns, found.st_ctime_ns, found.st_size)
