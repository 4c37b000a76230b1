"""Is a cache still the tree's? Compares the recorded structure with the files on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import Problem
from ..table import methods_by_file
from .cache import Cache
from .scan import read_route_file, walk_route_files


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
    """Route files added, removed or renamed since the build; with `methods`, also handlers
    added or removed in a file (this parses each file, so `run` leaves it out)."""
    result = Staleness()  # a cache of another route_dir is refused by cache.load
    files, _ = walk_route_files(root, config)
    now = {rel for rel, _ in files}
    built = set(cache.manifest.get("route_files") or [])
    result.added = sorted(now - built)
    result.removed = sorted(built - now)
    if methods:
        cached = methods_by_file(cache.routes)
        for rel, folders in files:
            if rel not in built:
                continue
            read = read_route_file(root / rel, rel, folders)
            if isinstance(read, Problem):
                continue  # a file that no longer parses: the next build reports it
            if set(read.handlers()) != cached.get(rel, set()):
                result.changed.append(rel)
    return result
