"""Where a route file stands: what its folders mean in the URL (read by `conventions`), and the
folder behind each URL piece, for the rules that name folders."""

from __future__ import annotations

from dataclasses import dataclass

from ..conventions import OwnTypes, SegmentKind, Shape, shape_of
from ..errors import Problem
from .scan import RouteFile


@dataclass(frozen=True)
class Placed:
    """A route file with what its folders mean, and the folder behind each URL piece."""

    file: RouteFile
    shape: Shape
    folders: tuple[str, ...]  # folder path (relative to root) of each non-group segment

    @property
    def path(self) -> str:
        return self.shape.path


def _folder(route_dir: str, folders: tuple[str, ...], depth: int) -> str:
    return "/".join((route_dir, *folders[: depth + 1]))


def place(
    route_dir: str, file: RouteFile, problems: dict[str, Problem], own: OwnTypes = ()
) -> Placed | None:
    """Read the folder chain; bad folders become INVALID_SEGMENT (once per folder). `own`:
    the project's own segment types."""
    shape, errors = shape_of(file.folders, own)
    for depth, exc in errors:
        where = _folder(route_dir, file.folders, depth)
        problems.setdefault(where, Problem(where, 0, "INVALID_SEGMENT", str(exc), exc.hint))
    if shape is None:
        return None
    folders = tuple(
        _folder(route_dir, file.folders, depth)
        for depth, segment in enumerate(shape.segments)
        if segment.kind is not SegmentKind.GROUP
    )
    return Placed(file, shape, folders)
