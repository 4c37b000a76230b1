"""The route table: plain records that flow from scan or cache to the runtime."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .conventions import HTTP_METHODS, precedence_key


@dataclass(frozen=True)
class Route:
    """One method on one URL, served by the function `method` in `file`."""

    method: str
    path: str  # FastAPI template: /users/{user_id}, /docs/{slug:path}
    file: str  # posix, relative to the project root
    line: int
    params: tuple[str, ...] = ()  # path parameters in URL order, the catch-all last
    catchall: str | None = None

    @property
    def is_dynamic(self) -> bool:
        return bool(self.params)

    def to_record(self) -> tuple[Any, ...]:
        """Builtins only, so the cache can be read by an unpickler that admits no globals."""
        return (self.method, self.path, self.file, self.line, list(self.params), self.catchall)

    @classmethod
    def from_record(cls, record: Sequence[Any]) -> Route:
        method, path, file, line, params, catchall = record
        if not (
            isinstance(method, str) and method in HTTP_METHODS
            and isinstance(path, str) and path.startswith("/")
            and isinstance(file, str) and isinstance(line, int)
            and isinstance(params, list) and all(isinstance(p, str) for p in params)
            and (catchall is None or isinstance(catchall, str))
        ):
            raise ValueError(f"malformed route record {record!r}")
        return cls(method, path, file, line, tuple(params), catchall)


def methods_by_file(routes: Iterable[Route]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for r in routes:
        found.setdefault(r.file, set()).add(r.method)
    return found


def sort_routes(routes: Iterable[Route]) -> list[Route]:
    """Precedence order: static > [param] > [...catchall] at each segment, then method."""
    return sorted(
        routes,
        key=lambda r: (precedence_key(r.path), HTTP_METHODS.index(r.method), r.file),
    )


@dataclass(frozen=True)
class Statistics:
    total_routes: int
    static_routes: int
    dynamic_routes: int
    methods: dict[str, int]

    @classmethod
    def of(cls, routes: Sequence[Route]) -> Statistics:
        dynamic = sum(1 for r in routes if r.is_dynamic)
        counts = Counter(r.method for r in routes)
        return cls(
            total_routes=len(routes),
            static_routes=len(routes) - dynamic,
            dynamic_routes=dynamic,
            methods={m: counts[m] for m in HTTP_METHODS if counts[m]},
        )
