"""A file's digest, the one the build records beside what it read from the file and the one
the stale check compares: its own module, so that the check at every start needs neither the
walk's nor the scan's code to hash a file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def digest(chunks: Iterable[bytes]) -> str:
    """A file's digest, from its bytes in one or more pieces."""
    hashed = hashlib.blake2b(digest_size=16)
    for chunk in chunks:
        hashed.update(chunk)
    return hashed.hexdigest()
