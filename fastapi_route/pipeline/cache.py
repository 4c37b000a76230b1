"""Loading the cache: every check between the bytes on disk and a route table `run` trusts.

Everything on disk is untrusted: files are read with a size bound (regular files only, so a
FIFO or /dev/zero cannot hang or flood the reader), the manifest must be the typed record a
build writes, the data must match its SHA-256, decoding is bounded and runs no code
(`codec`, `safepickle`), and every record must name a route file inside the route folder with
the URL its folders mean (`conventions.extend`, the grammar validation uses): a forged
routes.dat can neither run code (directly, or by making `run` import a file of its choosing)
nor make the reader allocate without bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..conventions import (
    LAYOUT_FILE,
    ROOT,
    ROUTE_FILES,
    OwnTypes,
    SegmentError,
    Shape,
    extend,
    layouts_above,
)
from ..errors import CacheError, NoBuildError
from ..table import RouteEntry
from . import codec
from .manifest import FORMAT_VERSION, Manifest
from .store import DATA_FILE, MANIFEST_FILE, locked, read_bounded

MEND_HINT = "fastapi-route clean && fastapi-route build --force"
MAX_DATA_BYTES = 64 * 1024 * 1024  # routes.dat, compressed
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_DETAIL_CHARS = 300  # of an error's detail in a message: a forged record can be huge
MAX_DEPTH = 1024  # path parts of a route file: PATH_MAX (4096 bytes) allows fewer


@dataclass(frozen=True)
class Cache:
    """A verified cache as read from disk."""

    manifest: Manifest
    routes: list[RouteEntry]


def _corrupt(cache: Path, why: str) -> CacheError:
    return CacheError(f"The build cache at {cache} is corrupt or was tampered with: {why}.",
                      MEND_HINT)


def _detail(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS] + "..."


_SEPARATORS = re.compile(r"[/\\]" if os.name == "nt" else "/")


def _inside(path: str) -> tuple[str, ...] | None:
    """The parts of a relative path with no `..`, `.` or empty part, else None. (On Windows a
    backslash separates too, and a colon could name a drive.)"""
    if "\x00" in path or (os.name == "nt" and ":" in path):
        return None
    parts = tuple(_SEPARATORS.split(path))
    return None if any(p in ("", ".", "..") for p in parts) else parts


class _Shapes:
    """What each chain of folders means, folder by folder from the longest known prefix, so
    a table costs one grammar step per folder, not one per folder per file."""

    def __init__(self, own: OwnTypes = ()) -> None:
        self._known: dict[tuple[str, ...], Shape | None] = {(): ROOT}
        self._own = own  # the project's own segment types, as the manifest lists them

    def of(self, folders: tuple[str, ...]) -> Shape | None:
        known = len(folders)
        while folders[:known] not in self._known:
            known -= 1
        shape = self._known[folders[:known]]
        for depth in range(known + 1, len(folders) + 1):
            if shape is not None:
                try:
                    shape = extend(shape, folders[depth - 1], self._own)
                except SegmentError:
                    shape = None
            self._known[folders[:depth]] = shape
        return shape


def _where_routes_are(manifest: Manifest, routes: Sequence[RouteEntry]) -> str | None:
    """Why the table cannot be what a build of this project wrote, or None.

    `run` imports each record's file, so a forged record naming `/tmp/evil.py` or
    `../other/route.py` would run that file: every file must be a route file inside the route
    folder, listed in the manifest, and its URL, parameters and catch-all exactly what its
    folders mean.
    """
    base = _inside(manifest.route_dir)
    if base is None:
        return f"route_dir is not a folder inside the project: {manifest.route_dir!r}"
    listed = set(manifest.route_files)
    layouts = set(manifest.layout_files)
    shapes = _Shapes(manifest.own_types)
    Meaning = tuple[list[tuple[str, tuple[str, ...], "str | None"]], tuple[str, ...]]
    expected: dict[str, Meaning | None] = {}
    for r in routes:
        if r.file not in expected:
            parts = _inside(r.file)
            if (parts is None or len(parts) <= len(base) or len(parts) > MAX_DEPTH
                    or parts[: len(base)] != base or parts[-1] not in ROUTE_FILES):
                return f"not a route file inside {manifest.route_dir}/: {r.file!r}"
            folders = parts[len(base) : -1]
            shape = shapes.of(folders)
            # The layouts a build finds above the file: importing one runs it, so a record
            # may name no other file. (None listed, none to look for: most trees.)
            above = ("/".join((*base, *f, LAYOUT_FILE)) for f in layouts_above(folders))
            expected[r.file] = None if shape is None else (
                shape.urls,
                tuple(layout for layout in above if layout in layouts) if layouts else (),
            )
        meaning = expected[r.file]
        if meaning is None:
            return f"not in a folder a build would route: {r.file!r}"
        if r.file not in listed:
            return f"not among the manifest's route_files: {r.file!r}"
        if (r.path, r.params, r.catchall) not in meaning[0]:
            return f"not the URL of its file: {r.method} {r.path!r} in {r.file!r}"
        if r.layouts != meaning[1]:
            return f"not the layouts above its file: {list(r.layouts)!r} for {r.file!r}"
    return None


def read_manifest(cache: Path) -> dict[str, Any]:
    """manifest.json as a JSON object, not yet checked field by field."""
    try:
        content = read_bounded(cache / MANIFEST_FILE, MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        raise NoBuildError(f"{cache / MANIFEST_FILE} is missing") from None
    except OSError as exc:
        raise _corrupt(cache, f"cannot read {MANIFEST_FILE} ({_detail(exc)})") from None
    try:
        manifest = json.loads(content.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _corrupt(cache, f"{MANIFEST_FILE} is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise _corrupt(cache, f"{MANIFEST_FILE} is not a JSON object")
    return manifest


def _typed(cache: Path, raw: dict[str, Any]) -> Manifest:
    version = raw.get("format_version")
    if type(version) is int and 1 <= version < FORMAT_VERSION:  # an older fastapi-route's
        raise CacheError(
            f"The build cache at {cache} has format {version}, made by fastapi-route "
            f"{raw.get('fastapi_route_version', '?')}; this version {__version__} reads "
            f"format {FORMAT_VERSION}: rebuild it.",
            "fastapi-route build",
        )
    if version != FORMAT_VERSION:  # before the fields: another version has other fields
        raise CacheError(
            f"The build cache at {cache} has format {version!r}, made by fastapi-route "
            f"{raw.get('fastapi_route_version', '?')}; this version {__version__} reads "
            f"format {FORMAT_VERSION}.",
            MEND_HINT,
        )
    try:
        return Manifest.from_dict(raw)
    except ValueError as exc:
        raise _corrupt(cache, f"{MANIFEST_FILE} has {exc}") from None


def load(cache: Path, route_dir: str | None = None) -> Cache:
    """Read and verify the cache: format version, SHA-256, then a global-free unpickle.

    `route_dir` is the project's setting: the records must name files under it, whatever
    folder a (possibly forged) manifest claims.
    """
    with locked(cache.parent, exclusive=False):
        if not cache.is_dir():
            raise NoBuildError(f"{cache} does not exist")
        raw = read_manifest(cache)
        try:
            data = read_bounded(cache / DATA_FILE, MAX_DATA_BYTES)
        except FileNotFoundError:
            raise _corrupt(cache, f"{DATA_FILE} is missing") from None
        except OSError as exc:
            raise _corrupt(cache, f"cannot read {DATA_FILE} ({_detail(exc)})") from None
    manifest = _typed(cache, raw)
    if route_dir is not None and manifest.route_dir != route_dir:
        raise CacheError(
            f"The build cache at {cache} was built from {manifest.route_dir!r}, but the "
            f"project's route_dir is {route_dir!r}.",
            "fastapi-route build --force",
        )
    if hashlib.sha256(data).hexdigest() != manifest.routes_sha256:
        raise _corrupt(cache, f"{DATA_FILE} does not match the SHA-256 in {MANIFEST_FILE}")
    try:
        routes = codec.decode(data)
    except Exception as exc:  # zlib.error, UnpicklingError, ValueError, EOFError...
        raise _corrupt(cache, f"{DATA_FILE} cannot be decoded ({_detail(exc)})") from None
    if manifest.total_routes != len(routes):
        raise _corrupt(cache, f"{MANIFEST_FILE} counts {manifest.total_routes} routes, "
                              f"{DATA_FILE} holds {len(routes)}")
    wrong = _where_routes_are(manifest, routes)
    if wrong is not None:
        raise _corrupt(cache, _detail(ValueError(wrong)))
    return Cache(manifest, routes)
