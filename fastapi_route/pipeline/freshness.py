"""Is a cache still the tree's? Compares the recorded structure with the files on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import Problem
from ..table import methods_by
from .cache import Cache
from .manifest import fingerprint
from .scan import read_route_file, walk


@dataclass
class Staleness:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # same file, other methods

    @property
    def stale(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def describe(self) -> str:
        parts = []
        for label, files in (("added", self.added), ("removed", self.removed),
                             ("methods changed", self.changed)):
            if files:
                parts.append(f"{label}: " + ", ".join(files))
        return "; ".join(parts)


def check(root: Path, config: Config, cache: Cache, *, methods: bool = True) -> Staleness:
    """Route files and layouts added, removed or renamed since the build; with `methods`, also
    handlers added or removed in a file (this parses each file, so `run` leaves it out)."""
    result = Staleness()  # a cache of another route_dir is refused by cache.load
    found = walk(root, config)
    now = {rel for rel, _ in (*found.route_files, *found.layout_files)}
    built = {*cache.manifest.route_files, *cache.manifest.layout_files}
    result.added = sorted(now - built)
    result.removed = sorted(built - now)
    if not methods:
        return result
    handlers: dict[str, set[str]] = {}
    for rel, folders in found.route_files:
        read = read_route_file(root / rel, rel, folders)
        if not isinstance(read, Problem):  # one that no longer parses: the build reports it
            handlers[rel] = set(read.handlers())
    if fingerprint(handlers, now) == cache.manifest.fingerprint:
        return result  # the same files with the same methods: nothing more to name
    cached = methods_by(cache.routes, "file")
    result.changed = sorted(
        rel for rel, found in handlers.items() if rel in built and found != cached.get(rel, set())
    )
    return result
