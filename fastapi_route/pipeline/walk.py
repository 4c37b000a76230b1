"""The walk of the route folder: which route files and layouts it holds, and (for the
portability check) every name below the route and static folders. Reads folders only, never
a file: `scan` reads the files it finds, and `freshness` repeats this walk at every start
to tell whether a cache is stale.

Symlinked folders are followed, but the walk remembers the folders above it, so a link back
up the tree is reported as CIRCULAR_GROUP instead of looping.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..conventions import LAYOUT_FILE, ROUTE_FILES, is_skipped_dir
from ..errors import Problem


def is_gone(exc: OSError) -> bool:
    """The error of a path that no longer is what the walk listed: gone, or a file where a
    folder was (or a folder where a file was)."""
    return isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError))


@dataclass
class Walk:
    """The files the route folder holds, each as (path relative to root, folder names below
    the route folder), sorted; with `every_name`, also the names each folder holds."""

    route_files: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    layout_files: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Folder (relative to root) -> the names in it, sorted: every folder below the route and
    # static folders, `_private` ones too, but no hidden name and no __pycache__ (what the
    # portability check reads).
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Folders (relative to root) listed in their parent but gone when read: the tree changed.
    vanished: list[str] = field(default_factory=list)


def _selected(rel_to_routes: str, config: Config) -> bool:
    include = config.build.include_patterns
    if include and not any(fnmatch.fnmatchcase(rel_to_routes, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(rel_to_routes, p) for p in config.build.exclude_patterns)


def _listed(name: str) -> bool:
    """A name the portability check sees: hidden names are tool state (`.git`, `.DS_Store`)
    and `__pycache__` is rebuilt by every interpreter, so neither is shipped or served."""
    return not name.startswith(".") and name != "__pycache__"


def _no_route_dir(config: Config) -> Problem:
    return Problem(
        config.route_dir, 0, "NO_ROUTE_DIR", f"there is no '{config.route_dir}' folder",
        "create it (fastapi-route init makes one) or set route_dir in config.py",
    )


def _sorted(result: Walk) -> Walk:
    result.route_files.sort()
    result.layout_files.sort(key=lambda layout: (len(layout[1]), layout[0]))
    return result


def walk(root: Path, config: Config, *, every_name: bool = False) -> Walk:
    """Every route file (as include/exclude patterns select them) and every layout; with
    `every_name`, also every name below the route and static folders (`Walk.names`).

    `run` and `status` repeat only this walk (no names) to tell whether the cache is stale
    (`freshness`); `dev` keeps it folder by folder (`TreeWalk`).
    """
    result = Walk()
    route_dir = Path(config.route_dir).as_posix()
    if (root / route_dir).is_dir():
        _walk_from(root, route_dir, config, result, routes=True, every_name=every_name)
    else:
        result.problems.append(_no_route_dir(config))
    static_dir = Path(config.static_dir).as_posix()
    if every_name and (root / static_dir).is_dir():
        _walk_from(root, static_dir, config, result, routes=False, every_name=True)
    return _sorted(result)


# A folder to read: its path, its folder names below the top, its real path, the real paths of
# the folders above it (a real path changes only through a symlink, so only links cost a
# realpath call), and whether it can hold routes.
_Entry = tuple[str, tuple[str, ...], str, frozenset[str], bool]


def _top_entry(root: Path, top: str, routes: bool) -> _Entry:
    top_real = os.path.realpath(root / top)
    return str(root / top), (), top_real, frozenset({top_real}), routes


def _walk_from(root: Path, top: str, config: Config, result: Walk, *, routes: bool,
               every_name: bool) -> None:
    """Walk `root/top` into `result`. Symlinked folders are followed, but not back to a folder
    above them. With `routes`, route files and layouts are collected and the walk's problems
    reported; `_private` and hidden folders hold no routes, so below them (and everywhere
    without `routes`) only names are listed, and only with `every_name`."""
    names = result.names if every_name else None
    stack = [_top_entry(root, top, routes)]
    while stack:
        entry = stack.pop()
        if not entry[4] and names is not None and "/".join((top, *entry[1])) in names:
            continue  # listed already: the static folder inside the route folder
        subfolders, _ = _read_folder(top, entry, config, result, names)
        stack.extend(reversed(subfolders))


def _read_folder(top: str, entry: _Entry, config: Config, result: Walk,
                 names: dict[str, tuple[str, ...]] | None) -> tuple[list[_Entry], bool]:
    """Read one folder into `result` (its route files, its layout, its problems; its names
    into `names`); return its subfolders to walk, in name order, and whether one of them is
    a symlink."""
    folder, parts, folder_real, ancestors, routed = entry
    here = "/".join((top, *parts))  # string joins: `run` walks the tree at every start
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        if is_gone(exc):  # listed (or found) a moment ago: the tree is changing
            result.vanished.append(here)
        elif routed:  # below a `_private` folder (or outside routes) unreadable is fine
            result.problems.append(
                Problem(here, 0, "SCAN_ERROR", f"cannot read folder: {exc.strerror}",
                        "check the folder's permissions")
            )
        return [], False
    if names is not None:
        names[here] = tuple(e.name for e in entries if _listed(e.name))
    subfolders: list[_Entry] = []
    linked = False
    for entry_ in entries:
        name = entry_.name
        try:
            is_dir = entry_.is_dir()  # follows symlinks
            is_file = not is_dir and entry_.is_file()
            is_link = is_dir and entry_.is_symlink()
        except OSError:
            is_dir = is_file = is_link = False
        if is_dir:
            holds_routes = routed and not is_skipped_dir(name)
            if not holds_routes and (names is None or not _listed(name)):
                continue
            linked = linked or is_link
            real = os.path.realpath(entry_.path) if is_link else f"{folder_real}/{name}"
            if real in ancestors:
                if holds_routes:
                    result.problems.append(
                        Problem(
                            f"{here}/{name}", 0, "CIRCULAR_GROUP",
                            "this folder links back to a folder above it, a loop with no "
                            "end", "remove the symlink or point it outside its own parents",
                        )
                    )
                continue
            subfolders.append(
                (entry_.path, (*parts, name), real, ancestors | {real}, holds_routes)
            )
        elif not routed:
            continue
        elif is_file and name in ROUTE_FILES:
            if _selected("/".join((*parts, name)), config):
                result.route_files.append((f"{here}/{name}", parts))
        elif is_file and name == LAYOUT_FILE:
            result.layout_files.append((f"{here}/{name}", parts))
    return subfolders, linked


@dataclass
class _Listing:
    """One folder as `TreeWalk` last read it."""

    top: str
    entry: _Entry
    found: Walk  # what this folder alone adds to the walk
    subfolders: tuple[str, ...]  # the folders walked from it (relative to root)


class TreeWalk:
    """The walk of the tree (every name, as `scan` walks it), kept folder by folder so that
    the next walk reads again only the folders a change touched (`rewalk`): `dev`, whose
    watcher says which paths changed.

    A tree with a symlinked folder, or whose route and static folders overlap, is walked
    whole every time: a change behind a link is not a change of a path below the root."""

    def __init__(self, root: Path, config: Config) -> None:
        self.root = root
        self.config = config
        self.folders: dict[str, _Listing] = {}
        self.tops: dict[str, bool] = {}  # each top folder walked -> whether it holds routes
        self.read: set[str] = set()  # the folders the last walk read
        self.incremental = False
        # The root as the watcher may spell it: as given, or its real path (macOS's
        # /private/var for /var).
        self._prefixes = tuple(dict.fromkeys((str(root) + os.sep,
                                              os.path.realpath(root) + os.sep)))

    def _configured_tops(self) -> tuple[str, str]:
        return Path(self.config.route_dir).as_posix(), Path(self.config.static_dir).as_posix()

    def walk_all(self, last: TreeWalk | None = None) -> Walk:
        """The whole tree read again. Each folder `last` listed the same keeps that listing
        (and so what the walk is made of): `dev` freezes what a reload leaves, so a whole
        walk (the watcher's first) adds to the collection after it only the folders that
        changed, not 16,000 listings at 10,000 route files."""
        self.folders.clear()
        self.read = set()
        route_dir, static_dir = self._configured_tops()
        self.tops = {top: routes for top, routes in ((route_dir, True), (static_dir, False))
                     if (self.root / top).is_dir()}
        overlap = (route_dir == static_dir or static_dir.startswith(route_dir + "/")
                   or route_dir.startswith(static_dir + "/"))
        linked = False
        for top, routes in self.tops.items():
            linked = self._walk_below(top, _top_entry(self.root, top, routes)) or linked
        self.incremental = not (linked or overlap) and route_dir in self.tops
        if last is not None:
            for rel, listing in self.folders.items():
                was = last.folders.get(rel)
                if was is not None and was == listing:
                    self.folders[rel] = was
        return self._assemble()

    def rewalk(self, changed: Iterable[str]) -> Walk | None:
        """The walk again, reading only the folders holding a changed path (absolute paths,
        as the watcher gives them) and walking whole the folders that changed themselves
        (added, deleted, moved). None when it cannot tell: walk it all (`walk_all`)."""
        if not self.incremental:
            return None
        dirty: set[str] = set()  # folders to list again
        whole: set[str] = set()  # folders to walk again from scratch
        for path in changed:
            prefix = next((p for p in self._prefixes if path.startswith(p)), None)
            if prefix is None:
                return None  # not below the root as this walk spells it: read it all
            rel = path[len(prefix):].replace(os.sep, "/")
            for t in self._configured_tops():
                if t == rel or t.startswith(rel + "/") or (
                        rel.startswith(t + "/") and t not in self.tops):
                    return None  # a top folder itself (or a folder above it) changed
            top = next((t for t in self.tops if rel.startswith(t + "/")), None)
            if top is None:
                continue  # outside the route and static folders
            if rel in self.folders or os.path.isdir(path):
                whole.add(rel)
            parent = rel.rpartition("/")[0]
            while parent not in self.folders and parent != top:
                parent = parent.rpartition("/")[0]  # inside a folder the walk does not list
            if parent not in self.folders:
                return None
            dirty.add(parent)
        self.read = set()
        for rel in sorted(dirty, key=lambda f: f.count("/")):  # outer folders first
            listing = self.folders.get(rel)
            if listing is None or rel in self.read:
                continue  # gone with its parent, or walked whole with it
            if not self._relist(rel, listing, whole):
                return None
        return self._assemble()

    def _relist(self, rel: str, listing: _Listing, whole: set[str]) -> bool:
        found = Walk()
        subfolders, linked = _read_folder(listing.top, listing.entry, self.config, found,
                                          found.names)
        if found.vanished or linked:
            return False  # a full walk says what it means
        self.read.add(rel)
        before = {sub: self.folders[sub].entry for sub in listing.subfolders}
        now = {"/".join((listing.top, *e[1])): e for e in subfolders}
        for sub, entry in before.items():
            if sub in whole or sub not in now or now[sub][2:] != entry[2:]:
                self._drop(sub)  # gone, or changed itself: walked again whole below
        self.folders[rel] = _Listing(listing.top, listing.entry, found, tuple(now))
        for sub, entry in now.items():
            if sub not in self.folders and self._walk_below(listing.top, entry):
                return False
        return True

    def _drop(self, rel: str) -> None:
        stack = [rel]
        while stack:
            listing = self.folders.pop(stack.pop(), None)
            if listing is not None:
                stack.extend(listing.subfolders)

    def _walk_below(self, top: str, first: _Entry) -> bool:
        """Read `first` and every folder below it; whether a symlinked folder was met."""
        linked = False
        stack = [first]
        while stack:
            entry = stack.pop()
            rel = "/".join((top, *entry[1]))
            if not entry[4] and rel in self.folders:
                continue  # listed already: the static folder inside the route folder
            found = Walk()
            subfolders, link = _read_folder(top, entry, self.config, found, found.names)
            linked = linked or link
            self.folders[rel] = _Listing(top, entry, found,
                                         tuple("/".join((top, *e[1])) for e in subfolders))
            self.read.add(rel)
            stack.extend(reversed(subfolders))
        return linked

    def _assemble(self) -> Walk:
        result = Walk()
        if self._configured_tops()[0] not in self.tops:
            result.problems.append(_no_route_dir(self.config))
        for listing in self.folders.values():
            found = listing.found
            result.route_files += found.route_files
            result.layout_files += found.layout_files
            result.problems += found.problems
            result.names.update(found.names)
            result.vanished += found.vanished
        return _sorted(result)
