"""Is a cache still the tree's? The one definition `status`, `run`, `run --strict` and the
ASGI entry point share.

A cache is stale when, since its build, a route file or `_layout.py` was added or removed
(moving one is both), a method was added to or removed from a route file, a handler's
signature changed (its parameters' names, kinds and annotations, its literal `operation_id`,
`async` or not, or a handler bound by something other than `def`), a layout's declared names
changed, or a file can no longer be read as Python. A handler's body, a comment or blank line,
a default value, the handlers' order, a layout's values, the files' mtimes and the project's
place on the disk change nothing the build derived, so they need no rebuild (SPEC 5).

The build records, per file, a digest of its bytes and a digest of its facts (what the scan
read from it, line numbers left out): `Manifest.digests`. The check walks the tree, hashes
each file, and parses only those whose bytes changed, comparing their facts. A re-read file
whose facts did not change gives its handlers' current lines (`with_current_lines`).

A build into the project's own cache also records each file's modification time, change
time and size (`Manifest.stamps`, see `stamps`), and a file whose stamp is still that is not
hashed: one `stat` instead of reading it, at every start. The change time (ctime) is the
kernel's: no tool can set it back, as `tar`, `rsync -t`, `cp -p` or `touch -r` set an mtime,
so a file put back with an old mtime is still hashed; git's index trusts the same pair. A
file the build found changed just before it started, or while it ran, gets no stamp and is
always hashed (an edit in the same tick of the file system's clock would keep both times:
git's "racy" files).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bindings import Binding
from ..config import Config
from ..conventions import LAYOUT_NAMES
from ..errors import Problem
from ..table import RouteEntry, methods_by
from .cache import Cache
from .digest import Stamp, digest, stamp_of
from .segment_types import ParamsFile, listed
from .walk import walk

if TYPE_CHECKING:
    from .scan import Declarations, Definition, RouteFile

# `scan` (the files' reader, with `ast`) is imported by what reads a file: at a start, only
# when a file was written since the build.

_CHUNK = 1 << 16
# How long before the build's start a file must have last changed (mtime and ctime) for its
# stamp to be recorded: the coarsest clock of a common file system (FAT's 2 s), so that an
# edit after the build read the file always moves its times.
RACY_NS = 2_000_000_000
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_KINDS = (("added", "added"), ("removed", "removed"), ("methods_changed", "methods changed"),
          ("signature_changed", "signature changed"),
          ("declarations_changed", "declarations changed"), ("unreadable", "unreadable"))


@dataclass
class Staleness:
    """What changed since the build, each list sorted; empty lists: the cache is fresh."""

    added: list[str] = field(default_factory=list)  # route files, layouts, params files
    removed: list[str] = field(default_factory=list)
    methods_changed: list[str] = field(default_factory=list)  # a method added or removed
    signature_changed: list[str] = field(default_factory=list)  # same methods, other facts
    # A layout's names; a params file's `pattern`, `description` or `match`'s parameters.
    declarations_changed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # no longer parses, or cannot be read
    # Re-read route files whose facts are the build's: method -> its handler's line now.
    lines: dict[str, dict[str, int]] = field(default_factory=dict)
    # Route files and layouts whose bytes changed but not their facts: not stale, but a
    # document made at build may no longer describe them (a docstring, a model's field).
    rewritten: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return any(getattr(self, name) for name, _ in _KINDS)

    def as_dict(self) -> dict[str, list[str]]:
        """The files by kind of change (`status --json`'s `stale_files`)."""
        return {name: list(getattr(self, name)) for name, _ in _KINDS}

    def describe(self) -> str:
        """One line naming every changed file by kind, as `status` and `run` print it."""
        return "; ".join(f"{label}: " + ", ".join(getattr(self, name))
                         for name, label in _KINDS if getattr(self, name))

    def with_current_lines(self, routes: list[RouteEntry]) -> list[RouteEntry]:
        """`routes` with the lines of handlers in re-read files as the files have them now
        (a line added above a handler moves it, and is not stale)."""
        if not self.lines:
            return routes
        return [r._replace(line=self.lines[r.file].get(r.method, r.line))
                if r.file in self.lines else r for r in routes]


def check(root: Path, config: Config, cache: Cache) -> Staleness:
    """Compare the cache with the tree: walk it, hash every route file and layout, and parse
    only those whose bytes differ from the build's."""
    result = Staleness()  # a cache of another route_dir is refused by cache.load
    manifest = cache.manifest
    found = walk(root, config)
    params = listed(root)  # params/<name>.py: a project's own segment types (SPEC 14.1)
    built = {*manifest.route_files, *manifest.layout_files, *manifest.param_files}
    now = {rel for rel, _ in (*found.route_files, *found.layout_files)} | set(params)
    result.added = sorted(now - built)
    result.removed = sorted(built - now)
    cached_methods: dict[str, set[str]] | None = None
    base = str(root)
    # each file with its folders and what it is: a route file, a layout, or a params file
    files: list[tuple[str, tuple[str, ...], str]] = [
        (rel, folders, "route") for rel, folders in found.route_files]
    files += [(rel, folders, "layout") for rel, folders in found.layout_files]
    files += [(rel, (), "params") for rel in params]
    for rel, folders, kind in files:
        if rel not in built:
            continue
        recorded = manifest.digests.get(rel)
        if recorded is not None:
            stamped = manifest.stamps.get(rel)
            if stamped is not None and stamped == stamp_of(f"{base}/{rel}"):
                continue  # not written since the build
            if _digest_of(f"{base}/{rel}") == recorded[0]:
                continue  # the very bytes of the build
        from .scan import (
            Declarations,
            RouteFile,
            read_declarations,
            read_params_file,
            read_route_file,
        )

        path = root / rel
        read: RouteFile | Declarations | ParamsFile | Problem = (
            read_route_file(path, rel, folders) if kind == "route"
            else read_declarations(path, rel, folders) if kind == "layout"
            else read_params_file(path, rel))
        if isinstance(read, Problem):
            result.unreadable.append(rel)
        elif recorded is not None and facts_digest(read) == recorded[1]:
            result.rewritten.append(rel)
            if isinstance(read, RouteFile):
                result.lines[rel] = read.handlers()
        elif isinstance(read, (Declarations, ParamsFile)):
            result.declarations_changed.append(rel)
        else:
            if cached_methods is None:
                cached_methods = methods_by(cache.routes, "file")
            same = set(read.handlers()) == cached_methods.get(rel, set())
            (result.signature_changed if same else result.methods_changed).append(rel)
    for name in (*(name for name, _ in _KINDS), "rewritten"):
        getattr(result, name).sort()
    return result


def file_system_now(root: Path) -> int | None:
    """The time, in ns, that the file system of `root` gives a file written now (its own
    clock: a network file system's server may disagree with ours); None if nothing can be
    written there. Unnamed where the OS allows (O_TMPFILE): no entry appears in `root`."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=root) as probe:
            return os.fstat(probe.fileno()).st_mtime_ns
    except OSError:
        return None


def stamps(root: Path, files: list[str], since: int | None) -> dict[str, Stamp]:
    """Each of `files` (relative to `root`) -> its (mtime, ctime in ns, size), for those
    last changed more than RACY_NS before `since` (`file_system_now` as the build started);
    none without `since`. Taken after the build read the files: one changed since changed
    after `since`, so it is left out."""
    if since is None:
        return {}
    found: dict[str, Stamp] = {}
    for rel in files:
        stamp = stamp_of(f"{root}/{rel}")
        if stamp is not None and max(stamp[0], stamp[1]) < since - RACY_NS:
            found[rel] = stamp
    return found


def _digest_of(path: str) -> str | None:
    """The digest of a regular file's bytes (as the build computes it); None if
    it cannot be read. Non-blocking, so a FIFO put in a file's place cannot hang the check.
    Plain `os` calls on a string path: this runs for every file at every start."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return digest(iter(functools.partial(os.read, fd, _CHUNK), b""))
    except OSError:
        return None
    finally:
        os.close(fd)


def facts_digest(read: RouteFile | Declarations | ParamsFile) -> str:
    """The digest of what the build derives from a route file or layout, line numbers left
    out: each handler's facts (sorted: the handlers' order means nothing), or a layout's
    declared names (a setting, or any public value it binds) with what the scan knows of them;
    a params file's `pattern`, `description` and `match`'s parameters (its body is `run`'s).
    """
    from .scan import RouteFile

    if isinstance(read, ParamsFile):
        return digest((read.facts.encode(),))
    if isinstance(read, RouteFile):
        facts = sorted(_without_line(d) for d in read.definitions)
    else:
        facts = [_without_line(b) for b in read.bindings if _declared(b)]
    return digest(("\n".join(facts).encode(),))


def _declared(binding: Binding) -> bool:
    """A layout's name that the build reads or refuses: not an import, function, class or
    `_name` of its own, unless it is named like a setting (`middleware`)."""
    return binding.name in LAYOUT_NAMES or (
        binding.kind == "value" and not binding.name.startswith("_")
    )


# Not facts of the tree's shape: where a thing is (its line), and what a layout's setting is
# set to (its value's shape, which the build checks; a new value needs no rebuild).
_NOT_FACTS = ("line", "value")
_FIELDS: dict[type, tuple[str, ...]] = {}  # Definition's and Binding's, once asked


def _facts_of(kind: type[Definition | Binding]) -> tuple[str, ...]:
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind)
                                       if f.name not in _NOT_FACTS)
    return fields


def _without_line(record: Definition | Binding) -> str:
    """Every fact the scan records of a handler or binding but its line, named. (A field added
    to Definition or Binding changes the digest of any file re-read: bump FORMAT_VERSION.)"""
    values: list[tuple[str, Any]] = [(name, getattr(record, name))
                                     for name in _facts_of(type(record))]
    return repr(values)
