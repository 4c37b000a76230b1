"""Is a cache still the tree's? Compares the recorded structure with the files on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..conventions import HTTP_METHODS
from ..errors import Problem
from .cache import Cache
from .scan import read_route_file, walk_route_files


@dataclass
class Staleness:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # same file, other methods
    route_dir_changed: bool = False

    @property
    def stale(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.route_dir_changed)

    def describe(self) -> str:
        parts = []
        if self.route_dir_changed:
            parts.append("route_dir changed since the build")
        for label, files in (("added", self.added), ("removed", self.removed),
                             ("methods changed", self.changed)):
            if files:
                parts.append(f"{label}: " + ", ".join(files))
        return "; ".join(parts)


def check(root: Path, config: Config, cache: Cache, *, methods: bool = True) -> Staleness:
    """Route files added, removed or renamed since the build; with `methods`, also handlers
    added or removed in a file (this parses each file, so `run` leaves it out)."""
    result = Staleness(route_dir_changed=cache.manifest.get("route_dir") != config.route_dir)
    files, _ = walk_route_files(root, config)
    now = {rel for rel, _ in files}
    built = set(cache.manifest.get("route_files") or [])
    result.added = sorted(now - built)
    result.removed = sorted(built - now)
    if methods:
        cached: dict[str, set[str]] = {}
        for route in cache.routes:
            cached.setdefault(route.file, set()).add(route.method)
        for rel, folders in files:
            if rel not in built:
                continue
            read = read_route_file(root / rel, rel, folders)
            if isinstance(read, Problem):
                continue  # a file that no longer parses: the next build reports it
            on_disk = {d.name for d in read.definitions if d.is_function and d.name in HTTP_METHODS}
            if on_disk != cached.get(rel, set()):
                result.changed.append(rel)
    return result
