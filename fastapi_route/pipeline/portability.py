"""Names that do not travel (code PORTABILITY): a file or folder name that Linux accepts but
macOS or Windows refuse, change or merge with another.

A wheel carries names as they are. Installed on Windows, a reserved device name (`con.py`) or
a forbidden character (`a:b`) stops the install and a trailing dot or space is dropped; on
Windows and macOS two names that differ only by case (`Users/`, `users/`) are one name, and on
macOS so are two spellings of one accented name (NFC and NFD `café`): one route or file
silently replaces the other. So an app built on Linux must not ship them.

What is checked: every name below the route folder and the static folder, which is what
fastapi-route routes, serves and ships: route files, layouts, helpers and data files, folders
without routes, `_private` folders, and files that `build.exclude_patterns` leaves out of the
table (the wheel still carries them). Not checked: hidden names (`.git`, `.DS_Store`: tool
state the router and the static server never use) and `__pycache__` (rebuilt by every
interpreter, left out of wheels); and the rest of the project, which is the user's own package
(or a folder that may hold a virtualenv), shipped as their packaging says.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Container, Iterator

from ..errors import Problem, printable
from .scan import RouteFile, Scan

CODE = "PORTABILITY"

# Windows' device names, whatever the extension and the case: `con`, `NUL.txt`, `Com1.tar.gz`.
# Windows 11 frees some of them with an extension; an app also installs on older systems.
RESERVED_NAMES = frozenset({
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
    *(f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789\u00b9\u00b2\u00b3"),
})
FORBIDDEN_PRINTABLE = frozenset('<>:"|?*\\')
FORBIDDEN_CHARACTERS = FORBIDDEN_PRINTABLE | frozenset(map(chr, range(32)))  # controls too


def _fold_char(c: str) -> str:
    """One character as a case-insensitive file system compares it: mapped to one character
    (NTFS's upcase table, APFS's case folding), so `ß` stays apart from `ss`, but the dotless
    i (U+0131) meets `I` and `i` (Windows upper-cases) and the Kelvin sign (U+212A) meets `k`
    (Unicode's case folding)."""
    upper = c.upper()
    c = upper if len(upper) == 1 else c
    folded = c.casefold()
    if len(folded) == 1:
        return folded
    lower = c.lower()
    return lower if len(lower) == 1 else c


def fold(name: str) -> str:
    """The key under which macOS or Windows sees two names as one: case and Unicode
    normalisation ignored."""
    if name.isascii():  # nearly every name: one C call
        return name.lower()
    decomposed = unicodedata.normalize("NFD", name)
    return unicodedata.normalize("NFD", "".join(map(_fold_char, decomposed)))


def _name_problems(rel: str, name: str, segment: bool) -> Iterator[Problem]:
    """What Windows or macOS refuses in one name on its own. For a `segment` (a folder on a
    route file's path) bytes that are not UTF-8 and control characters are left to
    INVALID_SEGMENT, which reports them already: one problem per mistake."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes the OS handed over as lone surrogates
        if segment:
            return
        yield Problem(
            rel, 0, CODE, f"'{name}' is not valid UTF-8: macOS and Windows store names as "
            "Unicode, so the wheel cannot carry it",
            "rename it using UTF-8 characters",
        )
    forbidden = sorted(set(name) & (FORBIDDEN_PRINTABLE if segment else FORBIDDEN_CHARACTERS))
    if forbidden:
        shown = " and ".join(f"'{c}'" for c in forbidden)
        yield Problem(
            rel, 0, CODE, f"'{name}' contains {shown}, which Windows forbids in a file or "
            "folder name, so the wheel cannot be installed there",
            "rename it without < > : \" | ? * \\ or control characters (a typed segment is "
            "written [id=int], not [id:int])",
        )
    if name.endswith((".", " ")):
        which = "a dot" if name.endswith(".") else "a space"
        yield Problem(
            rel, 0, CODE, f"'{name}' ends with {which}, which Windows strips from a name, so "
            "it cannot be installed there as it is",
            "remove the trailing dots and spaces from the name",
        )
    stem, dot, extension = name.partition(".")
    device = stem.rstrip(" ").upper()
    if device in RESERVED_NAMES:
        yield Problem(
            rel, 0, CODE, f"'{name}' is the Windows device name {device}, which no file or "
            "folder there can have, with or without an extension",
            printable(f"rename it, e.g. '{stem}_{dot}{extension}'"),
        )


def _difference(a: str, b: str) -> str:
    """How two names of one fold differ, and where that makes them one."""
    if unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b):
        return f"Unicode normalisation ({a!a} and {b!a}): macOS sees one name"
    if "".join(map(_fold_char, a)) == "".join(map(_fold_char, b)):
        return "case: macOS and Windows see one name"
    return f"case and Unicode normalisation ({a!a} and {b!a}): macOS sees one name"


def _clashes(rel: str, names: tuple[str, ...]) -> Iterator[Problem]:
    """Names in one folder that macOS or Windows would store as one."""
    same: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        same[fold(name)].append(name)
    for first, *others in same.values():
        for other in others:
            yield Problem(
                f"{rel}/{other}", 0, CODE,
                f"'{first}' and '{other}' in {rel}/ differ only by {_difference(first, other)}, "
                "so once the app is installed there one of them replaces the other",
                "rename one of them or merge the two: names in one folder must differ by more "
                "than letter case or Unicode normalisation",
            )


# What one folder's names gave: the names (the walk's own tuple), which are segments, and
# the problems.
Found = dict[str, tuple[tuple[str, ...], tuple[bool, ...], list[Problem]]]


class Checked:
    """What `check_portability` found last time, for `dev`: each folder's result, and the
    segments (folders on a route file's path) with how many of the scan's route files have
    each, kept in step with the files that changed."""

    def __init__(self) -> None:
        self.folders: Found = {}
        self._route_dir = ""
        self._files: dict[int, RouteFile] = {}
        self._segments: dict[str, int] = {}

    def segments(self, scan: Scan) -> tuple[dict[str, int], set[str]]:
        """The scan's segments, and the folders where one became or stopped being one."""
        if scan.route_dir != self._route_dir:
            self.folders, self._files, self._segments = {}, {}, {}
            self._route_dir = scan.route_dir
        counts, last = self._segments, self._files
        files = {id(f): f for f in scan.files}
        flipped: set[str] = set()
        for key, f in last.items():
            if files.get(key) is not f:
                for segment in _segments(scan.route_dir, f):
                    counts[segment] -= 1
                    if not counts[segment]:
                        del counts[segment]
                        flipped.add(segment)
        for key, f in files.items():
            if last.get(key) is not f:
                for segment in _segments(scan.route_dir, f):
                    had = counts.get(segment, 0)
                    counts[segment] = had + 1
                    if not had:
                        flipped.add(segment)
        self._files = files
        return counts, {segment.rsplit("/", 1)[0] for segment in flipped}


def _segments(route_dir: str, f: RouteFile) -> list[str]:
    return ["/".join((route_dir, *f.folders[: depth + 1])) for depth in range(len(f.folders))]


def check_portability(scan: Scan, known: Checked | None = None) -> list[Problem]:
    """Every name below the route and static folders that cannot be installed as it is on
    macOS or Windows: the names the scan's walk listed (none for a scan made up in memory).
    `known`: what the last call found, reused for each folder the walk gives the same names
    (the same tuple: a folder `dev` did not read again) where no segment came or went; it is
    left holding this scan's."""
    if known is None:
        segments: Container[str] = {s for f in scan.files for s in _segments(scan.route_dir, f)}
        last: Found = {}
        moved: Container[str] = ()
    else:
        segments, moved = known.segments(scan)
        last = known.folders
    problems: list[Problem] = []
    found: Found = {}
    for rel, names in scan.names.items():
        got = last.get(rel)
        if got is None or got[0] is not names or rel in moved:
            flags = tuple([f"{rel}/{name}" in segments for name in names])
            if got is None or got[0] is not names or got[1] != flags:
                here = [p for name, segment in zip(names, flags, strict=True)
                        for p in _name_problems(f"{rel}/{name}", name, segment)]
                here.extend(_clashes(rel, names))
                got = (names, flags, here)
            else:
                got = (names, flags, got[2])
        found[rel] = got
        problems.extend(got[2])
    if known is not None:
        known.folders = found
    return sorted(problems)
