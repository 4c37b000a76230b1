"""Unpickling a table that may be forged, without running anything or allocating without bound.

Two layers: the opcodes are walked first (pickletools parses, never builds) and anything a
table of builtins does not need is refused; then an unpickler that admits no globals at all
builds the value. Either layer alone would stop a payload that calls code.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from typing import Any

# The pickle opcodes a table of builtins needs (what `encode` writes, and the plain
# equivalents of older protocols). Everything else is refused before unpickling: opcodes that
# reach for globals or call things (GLOBAL, STACK_GLOBAL, INST, OBJ, REDUCE, NEWOBJ, BUILD,
# EXT*, PERSID) and PUT/BINPUT/LONG_BINPUT, whose index the C unpickler trusts to size its
# memo (a 9-byte pickle with LONG_BINPUT 0x08000000 makes it allocate and zero 2 GB).
_ALLOWED_OPCODES = frozenset({
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "MEMOIZE", "GET", "BINGET",
    "LONG_BINGET", "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2",
    "LONG", "LONG1", "LONG4", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE",
    "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "EMPTY_LIST", "APPEND", "APPENDS", "LIST",
    "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_DICT", "DICT", "SETITEM",
    "SETITEMS",
})


# What `encode` writes (binary protocol 4): opcode -> bytes of argument, or a negative number
# -n for "an n-byte little-endian length, then that many bytes".
_OWN_OPCODES = {
    0x80: 1, 0x95: 8, 0x2E: 0, 0x28: 0, 0x7D: 0, 0x5D: 0, 0x29: 0, 0x4E: 0, 0x88: 0, 0x89: 0,
    0x4B: 1, 0x4D: 2, 0x4A: 4, 0x8C: -1, 0x58: -4, 0x8D: -8, 0x85: 0, 0x86: 0, 0x87: 0,
    0x74: 0, 0x73: 0, 0x75: 0, 0x61: 0, 0x65: 0, 0x94: 0, 0x68: 1, 0x6A: 4,
}


def _only_own_opcodes(raw: bytes) -> bool:
    """True when the pickle is made only of the opcodes `encode` writes, ending at its STOP.

    A fast walk for the common case (pickletools.genops costs ~30 ms per 2,000 routes); any
    other pickle goes through `_check_opcodes`, which names what it refuses. The opcodes a
    table is mostly made of are tested first.
    """
    sizes = _OWN_OPCODES
    end = len(raw)
    i = 0
    while i < end:
        code = raw[i]
        if code == 0x8C:  # SHORT_BINUNICODE: a one-byte length, then the text
            i += 2 + raw[i + 1] if i + 1 < end else end + 1
            continue
        if code in (0x28, 0x5D, 0x74, 0x4E, 0x61, 0x65):  # MARK [] TUPLE None APPEND(S)
            i += 1
            continue
        size = sizes.get(code)
        if size is None:
            return False
        i += 1
        if size < 0:
            length = int.from_bytes(raw[i : i - size], "little")
            i += -size + length
        else:
            i += size
        if code == 0x2E:  # STOP
            return i == end
    return False


def _check_opcodes(raw: bytes) -> None:
    """Walk the pickle's opcodes without running any (pickletools parses, never builds)."""
    if _only_own_opcodes(raw):
        return
    for opcode, arg, position in pickletools.genops(raw):
        if opcode.name in _ALLOWED_OPCODES:
            continue
        if opcode.name in ("GLOBAL", "STACK_GLOBAL", "INST", "OBJ"):
            named = f" {arg.replace(' ', '.')}" if isinstance(arg, str) else ""
            raise pickle.UnpicklingError(
                f"forbidden global{named} (opcode {opcode.name} at byte {position})"
            )
        raise pickle.UnpicklingError(
            f"opcode {opcode.name} at byte {position} has no place in a route table"
        )


class _NoGlobals(pickle.Unpickler):
    """Refuses every global: a route table is made of builtins, so nothing else is needed."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def loads(raw: bytes) -> Any:
    """The value a pickle of builtins holds; pickle.UnpicklingError for anything else."""
    _check_opcodes(raw)
    return _NoGlobals(io.BytesIO(raw)).load()
