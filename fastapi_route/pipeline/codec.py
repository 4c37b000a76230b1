"""routes.dat: the route table as a zlib-compressed pickle of builtins, and back.

Decoding trusts nothing: decompression is bounded (a zlib bomb is refused, not inflated), the
pickle goes through `safepickle`, and every record must be exactly what `encode` writes.
"""

from __future__ import annotations

import io
import pickle
import zlib
from collections.abc import Sequence

from ..table import RouteEntry
from . import safepickle
from .manifest import FORMAT_VERSION

PICKLE_PROTOCOL = 4  # fixed, so the bytes do not change with the Python version
# Far above any real table (10,000 routes pickle to about 1 MB), far below what could exhaust
# a machine's memory.
MAX_TABLE_BYTES = 64 * 1024 * 1024  # decompressed


def encode(routes: Sequence[RouteEntry], level: int) -> tuple[bytes, int]:
    """The compressed table and its uncompressed size."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=PICKLE_PROTOCOL)
    pickler.fast = True  # no memo: a table has no shared objects, and loading checks fewer opcodes
    pickler.dump({"format_version": FORMAT_VERSION, "routes": [r.to_record() for r in routes]})
    raw = buffer.getvalue()
    return zlib.compress(raw, level), len(raw)


def inflate(data: bytes, limit: int = MAX_TABLE_BYTES) -> bytes:
    """Decompress, producing at most one byte more than `limit`: a stream that would give
    more (a zlib bomb: 2 GB of zeros fit in 2 MB) is refused without being inflated further,
    as is an incomplete one or one with trailing bytes."""
    inflater = zlib.decompressobj()
    raw = inflater.decompress(data, limit + 1)  # never 0, which would mean "no limit"
    if len(raw) > limit:
        raise ValueError(f"it decompresses to more than {limit} bytes")
    if not inflater.eof:
        raise ValueError("the compressed stream is incomplete")
    if inflater.unused_data:
        raise ValueError("bytes follow the end of the compressed stream")
    return raw


def decode(data: bytes) -> list[RouteEntry]:
    """The table `encode` wrote; an exception (zlib.error, UnpicklingError, ValueError, ...)
    for anything else."""
    payload = safepickle.loads(inflate(data))
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ValueError("unexpected payload")
    records = payload.get("routes")
    if not isinstance(records, list):
        raise ValueError("no route list")
    return [RouteEntry.from_record(r) for r in records]
