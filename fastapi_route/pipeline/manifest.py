"""manifest.json: what a build records about its cache, as one typed record.

Written by `build` (and the build hooks through it), read by `run`, `status` and the loader.
The JSON is flat and sorted (SPEC 4), every path in it relative to the project root.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .. import __version__
from ..conventions import is_own_type_name, params_type
from ..table import RouteEntry, Statistics
from .baked_openapi import BakedDocument
from .digest import Stamp

# A route file's or layout's path -> (digest of its bytes, digest of the facts the build read
# from them): see `freshness`.
Digests = Mapping[str, tuple[str, str]]
# Each file's stamp (`digest.Stamp`) as the build found it, by path: `freshness` hashes only
# a file whose stamp is no longer this.
Stamps = Mapping[str, Stamp]

FORMAT_VERSION = 4  # of routes.dat and this manifest; a reader refuses any other
# 2: records name the layouts that apply, the manifest lists layout_files (0.4.0)
# 3: the manifest records each route file's and layout's digests (`digests`)
# 4: records carry the statuses a handler's returns show (OpenAPI documents them)  (0.5.0)


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH, when it asks for a reproducible build (whole seconds); else None."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(epoch) if epoch.isdigit() else None


def created_at() -> str:
    """ISO 8601 build time; SOURCE_DATE_EPOCH (reproducible builds) wins over the clock."""
    epoch = source_date_epoch()
    if epoch is not None:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()
    return datetime.now(tz=timezone.utc).isoformat()


def fingerprint(files: Iterable[str], digests: Digests) -> str:
    """Hash of the tree's structure: each route file's and layout's relative path and the
    digest of its facts (its methods and their signatures; a layout's declared names).

    Two builds have the same fingerprint exactly when neither is stale for the other's tree
    (`freshness`); nothing compares it at start (the per-file digests say which file changed).
    """
    text = "\n".join(f"{f} {digests[f][1] if f in digests else ''}" for f in sorted({*files}))
    return hashlib.sha256(text.encode()).hexdigest()


def _str(value: object) -> bool:
    return isinstance(value, str)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or isinstance(value, float)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_digests(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], str)
        for v in value.values()
    )


def _is_stamps(value: object) -> bool:
    """[mtime, ctime, size]: times in ns (before 1970 is negative), a size of 0 or more."""
    return isinstance(value, dict) and all(
        isinstance(v, list) and len(v) == 3 and all(_is_int(n) for n in v) and v[2] >= 0
        for v in value.values()
    )


def _is_param_files(value: object) -> bool:
    """`params/<name>.py` each, `name` one a folder's `[x=name]` can use: the loader reads
    the records' types against these names."""
    return isinstance(value, list) and all(
        isinstance(v, str) and is_own_type_name(params_type(v) or "") for v in value)


@dataclass(frozen=True)
class Manifest:
    """The fields of manifest.json (SPEC 4 names the first thirteen)."""

    format_version: int
    fastapi_route_version: str
    created_at: str
    total_routes: int
    static_routes: int
    dynamic_routes: int
    compression_level: int
    original_size: int
    compressed_size: int
    compression_ratio: float
    routes_sha256: str
    fingerprint: str
    cache_dir: str  # as config.py set it when built: shown by `status`, for people and tools
    route_dir: str  # the loader refuses records outside it, and a project with another one
    route_files: tuple[str, ...]  # `run`'s stale check: the walk's files against these
    layout_files: tuple[str, ...]  # the same for layouts; the loader's check of each record
    # Each of those files -> [digest of its bytes, digest of its facts]: `freshness` re-reads
    # only a file whose bytes changed, and compares its facts. A file missing here is stale.
    digests: Digests = dataclasses.field(default_factory=dict)
    # openapi.json's record when the build made the document (build.openapi); absent otherwise
    openapi: BakedDocument | None = None
    # The project's own segment types' files (params/<name>.py, SPEC 14.1), their digests in
    # `digests`: the loader's check of each record's `[x=name]`, and `freshness`'s. Absent
    # from the JSON when there are none (a cache of a project without params/ is as before).
    param_files: tuple[str, ...] = ()
    # Files of `digests` -> (mtime, ctime in ns, size) when built (`freshness.stamps`): the stale
    # check hashes only a file whose stamp changed. Recorded by a build into the project's
    # own cache, for the files it did not find changed just before or during the build;
    # absent from a wheel's cache and a reproducible build's (a stamp is of one disk).
    stamps: Stamps = dataclasses.field(default_factory=dict)

    @property
    def own_types(self) -> frozenset[str]:
        """The names of the project's own segment types when it was built."""
        return frozenset(f.rpartition("/")[2].removesuffix(".py") for f in self.param_files)

    @classmethod
    def of_build(
        cls, routes: Sequence[RouteEntry], route_files: Sequence[str], data: bytes,
        original_size: int, level: int, *, cache_dir: str, route_dir: str,
        layout_files: Sequence[str] = (), digests: Digests | None = None,
        param_files: Sequence[str] = (), stamps: Stamps | None = None,
    ) -> Manifest:
        digests = dict(sorted((digests or {}).items()))
        stats = Statistics.of(routes)
        return cls(
            format_version=FORMAT_VERSION,
            fastapi_route_version=__version__,
            created_at=created_at(),
            total_routes=stats.total_routes,
            static_routes=stats.static_routes,
            dynamic_routes=stats.dynamic_routes,
            compression_level=level,
            original_size=original_size,
            compressed_size=len(data),
            compression_ratio=round(original_size / len(data), 2) if data else 0.0,
            routes_sha256=hashlib.sha256(data).hexdigest(),
            fingerprint=fingerprint([*route_files, *layout_files, *param_files], digests),
            cache_dir=cache_dir,
            route_dir=route_dir,
            route_files=tuple(route_files),
            layout_files=tuple(layout_files),
            digests=digests,
            param_files=tuple(param_files),
            stamps=dict(sorted((stamps or {}).items())),
        )

    def to_dict(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields["route_files"] = list(self.route_files)
        fields["layout_files"] = list(self.layout_files)
        fields["digests"] = {f: list(pair) for f, pair in self.digests.items()}
        del fields["openapi"]
        del fields["param_files"]
        del fields["stamps"]
        if self.stamps:
            fields["stamps"] = {f: list(stamp) for f, stamp in self.stamps.items()}
        if self.param_files:
            fields["param_files"] = list(self.param_files)
        if self.openapi is not None:
            fields["openapi"] = self.openapi.to_dict()
        return fields

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """The record a dict describes; ValueError naming every missing or mistyped field."""
        checks = {
            "format_version": _is_int, "fastapi_route_version": _str, "created_at": _str,
            "total_routes": _is_int, "static_routes": _is_int, "dynamic_routes": _is_int,
            "compression_level": _is_int, "original_size": _is_int,
            "compressed_size": _is_int, "compression_ratio": _is_number,
            "routes_sha256": _str, "fingerprint": _str, "cache_dir": _str, "route_dir": _str,
            "route_files": _is_str_list, "layout_files": _is_str_list, "digests": _is_digests,
        }
        wrong = [name for name, ok in checks.items() if name not in data or not ok(data[name])]
        if wrong:
            raise ValueError(f"a missing or invalid {', '.join(wrong)}")
        values = {name: data[name] for name in checks}
        values["route_files"] = tuple(values["route_files"])
        values["layout_files"] = tuple(values["layout_files"])
        values["digests"] = {f: (pair[0], pair[1]) for f, pair in values["digests"].items()}
        values["compression_ratio"] = float(values["compression_ratio"])
        if "param_files" in data:  # optional: only a project with params/
            if not _is_param_files(data["param_files"]):
                raise ValueError("an invalid param_files")
            values["param_files"] = tuple(data["param_files"])
        if "stamps" in data:  # optional: only a build into the project's own cache
            if not _is_stamps(data["stamps"]):
                raise ValueError("an invalid stamps")
            values["stamps"] = {f: (s[0], s[1], s[2]) for f, s in data["stamps"].items()}
        if data.get("openapi") is not None:  # optional: only a build with build.openapi
            values["openapi"] = BakedDocument.from_dict(data["openapi"])
        return cls(**values)
