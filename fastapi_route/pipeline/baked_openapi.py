"""The OpenAPI document made at build (SPEC 13.2), as data: its record in the manifest, whether
it still fits the app about to serve it, and its verified read.

`openapi.json` sits beside routes.dat; the manifest's `openapi` record holds its SHA-256 and
size, the cache fingerprint it was made from, the fastapi-route, FastAPI and pydantic versions
that made it, the `openapi_url` it answers, the digests of config.py and app.py (whose settings
and `configure` shape the document, but are not route files), a digest of FastAPI's arguments
as config.py computed them (from the environment, maybe), and the digest of every other project
module the app imported (a model in `lib/models.py`). Nothing here runs any of the app's code:
the document is made by `fastapi_route.openapi_child`, in another process.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..conventions import APP_FILE, CONFIG_FILE, DOCS_FILE
from .store import OPENAPI_FILE, read_bounded

if TYPE_CHECKING:  # freshness and the manifest import this module
    from ..settings import Config
    from .freshness import Staleness
    from .manifest import Manifest

MAX_DOCUMENT_BYTES = 512 * 1024 * 1024  # 20 MB at 10,000 route files with models
SOURCES = (CONFIG_FILE, APP_FILE)  # project files outside the route tree the document reads
MAX_MODULES = 100_000  # project modules a record may list (a forged manifest lists no more)
VERSIONED = ("fastapi-route", "fastapi", "pydantic")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def installed_versions() -> dict[str, str]:
    """The fastapi-route (this code's), FastAPI and pydantic versions installed here (read from
    their metadata: no import)."""
    found = {"fastapi-route": __version__}
    for name in ("fastapi", "pydantic"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = ""
    return found


def source_digests(root: Path) -> dict[str, str]:
    """SHA-256 of config.py's and app.py's bytes ("" for a file that is not there)."""
    return module_digests(root, list(SOURCES))


def arguments_digest(config: Config, root: Path) -> str:
    """SHA-256 of FastAPI(...)'s keyword arguments from config.py, as the app gets them: a
    config.py that reads the environment (`version = os.environ["APP_VERSION"]`) has the same
    bytes and another document. A value JSON has no form for is named by its type."""
    arguments = config.fastapi_arguments(docs_page=(root / DOCS_FILE).is_file())
    text = json.dumps(arguments, sort_keys=True, ensure_ascii=True, separators=(",", ":"),
                      default=lambda o: f"<{type(o).__module__}.{type(o).__qualname__}>")
    return hashlib.sha256(text.encode()).hexdigest()


def module_digests(root: Path, files: list[str]) -> dict[str, str]:
    """SHA-256 of each of these project files (paths relative to `root`; "" when unreadable)."""
    digests = {}
    for name in files:
        try:
            digests[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()
        except OSError:
            digests[name] = ""
    return digests


def _is_module_path(name: str) -> bool:
    """A relative path inside the project, as the child records one (never `..`, absolute)."""
    path = PurePosixPath(name)
    return (bool(name) and "\\" not in name and "\x00" not in name and not path.is_absolute()
            and ".." not in path.parts and path.as_posix() == name)


@dataclass(frozen=True)
class Made:
    """A document as the child process made it."""

    body: bytes  # `app.openapi()` as FastAPI's endpoint renders it, no root path added
    openapi_url: str
    versions: Mapping[str, str]  # of fastapi-route, FastAPI and pydantic, where it was made
    arguments: str = ""  # arguments_digest() where it was made
    modules: Mapping[str, str] = field(default_factory=dict)  # project modules it imported


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items())


@dataclass(frozen=True)
class BakedDocument:
    """The manifest's `openapi` record."""

    sha256: str
    size: int
    fingerprint: str  # the cache's, when it was made
    openapi_url: str
    versions: Mapping[str, str] = field(default_factory=dict)  # fastapi-route, fastapi, ...
    sources: Mapping[str, str] = field(default_factory=dict)  # config.py, app.py -> digest
    arguments: str = ""  # arguments_digest(): FastAPI(...)'s arguments from config.py
    modules: Mapping[str, str] = field(default_factory=dict)  # other project modules -> digest

    @classmethod
    def of(cls, body: bytes, *, fingerprint: str, openapi_url: str, root: Path,
           versions: Mapping[str, str], made: Made | None = None) -> BakedDocument:
        """The record of `body`; `made`: the child's result, with what it imported."""
        return cls(hashlib.sha256(body).hexdigest(), len(body), fingerprint, openapi_url,
                   dict(versions), source_digests(root),
                   made.arguments if made is not None else "",
                   dict(made.modules) if made is not None else {})

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size, "fingerprint": self.fingerprint,
                "openapi_url": self.openapi_url, "versions": dict(self.versions),
                "sources": dict(self.sources), "arguments": self.arguments,
                "modules": dict(self.modules)}

    @classmethod
    def from_dict(cls, data: object) -> BakedDocument:
        """The record a JSON value describes; ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError("an invalid openapi")
        ok = (isinstance(data.get("sha256"), str) and type(data.get("size")) is int
              and isinstance(data.get("fingerprint"), str)
              and isinstance(data.get("openapi_url"), str)
              and _is_str_map(data.get("versions")) and _is_str_map(data.get("sources")))
        # a record written before they were: its fastapi-route version tells it apart
        arguments = data.get("arguments", "")
        modules = data.get("modules", {})
        ok = (ok and isinstance(arguments, str) and _is_str_map(modules)
              and len(modules) <= MAX_MODULES
              and all(_is_module_path(k) and (_SHA256.fullmatch(v) or v == "")
                      for k, v in modules.items()))
        if not ok:
            raise ValueError("an invalid openapi")
        return cls(data["sha256"], data["size"], data["fingerprint"], data["openapi_url"],
                   dict(data["versions"]), dict(data["sources"]), arguments, dict(modules))

    def unfit(self, *, fingerprint: str, changed: list[str], openapi_url: str | None,
              root: Path, arguments: str | None = None) -> str | None:
        """Why the document no longer describes the app, or None while it fits.

        `changed`: the route files and layouts whose bytes changed since the build (stale or
        not: a docstring or a model declared in the file is in the document). `arguments`:
        arguments_digest() of the config about to serve (None: not compared).
        """
        if fingerprint != self.fingerprint:
            return "it was made from another build of the routes"
        if changed:
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            return f"{', '.join(changed[:3])}{more} changed since the build"
        if openapi_url != self.openapi_url:
            return f"openapi_url is {openapi_url!r} now, {self.openapi_url!r} at the build"
        now = installed_versions()
        for name in VERSIONED:
            if now.get(name) != self.versions.get(name):
                return (f"{name} {self.versions.get(name) or '?'} made it, "
                        f"{now.get(name) or 'none'} is installed")
        digests = source_digests(root)
        edited = [name for name in SOURCES if digests[name] != self.sources.get(name)]
        if edited:
            return f"{' and '.join(edited)} changed since the build"
        if arguments is not None and arguments != self.arguments:
            return ("FastAPI's arguments from config.py (title, version, servers, ...) are not "
                    "the build's (config.py reads the environment?)")
        now_modules = module_digests(root, sorted(self.modules))
        gone = [name for name, digest in now_modules.items()
                if digest == "" and self.modules[name] != ""]
        if gone:
            return _listed("the project module", gone, "the app imported at the build, is gone")
        edited = [name for name, digest in now_modules.items() if digest != self.modules[name]]
        if edited:
            return _listed("the project module", edited, "the app imports, changed since the build")
        return None

    def read(self, cache: Path) -> bytes:
        """openapi.json's bytes, verified against the record; OSError or ValueError why not."""
        body = read_bounded(cache / OPENAPI_FILE, MAX_DOCUMENT_BYTES)
        if len(body) != self.size or hashlib.sha256(body).hexdigest() != self.sha256:
            raise ValueError(f"{OPENAPI_FILE} does not match the SHA-256 in the manifest")
        return body


def _listed(what: str, names: list[str], said: str) -> str:
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"{what}{'s' if len(names) > 1 else ''} {', '.join(names[:3])}{more}, which {said}"


def changed_since_build(stale: Staleness) -> list[str]:
    """The route files and layouts whose bytes are not the build's (stale or not)."""
    return sorted({*stale.added, *stale.removed, *stale.methods_changed,
                   *stale.signature_changed, *stale.declarations_changed, *stale.unreadable,
                   *stale.rewritten})


def describe(root: Path, cache: Path, manifest: Manifest, stale: Staleness,
             openapi_url: str | None, config: Config | None = None) -> dict[str, Any]:
    """`status`'s view of the document: `state` absent, fits, stale (with the reason `run`
    would give) or invalid (openapi.json is not what the manifest records). `config`: the
    project's (read again from config.py when not given)."""
    record = manifest.openapi
    if record is None:
        return {"state": "absent"}
    if config is None:
        from ..config import load_config
        config = load_config(root)
    found: dict[str, Any] = {"size": record.size, "sha256": record.sha256,
                             "versions": dict(record.versions)}
    reason = record.unfit(fingerprint=manifest.fingerprint, changed=changed_since_build(stale),
                          openapi_url=openapi_url, root=root,
                          arguments=arguments_digest(config, root))
    if reason is not None:
        return {**found, "state": "stale", "reason": reason}
    try:
        record.read(cache)
    except (OSError, ValueError) as exc:
        return {**found, "state": "invalid", "reason": str(exc)}
    return {**found, "state": "fits"}
