"""The orchestration every caller shares: the CLI's `build`, the hook's wheel bake, `dev`."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import BuildFailed, Problem, errors_only
from ..table import RouteEntry
from . import codec, store
from .baked_openapi import BakedDocument, Made
from .freshness import facts_digest, file_system_now, stamps
from .manifest import Manifest, source_date_epoch
from .scan import Declarations, Facts, FileCallback, RouteFile, scan
from .segment_types import ParamsFile
from .validate import Checked, validate


@dataclass
class CompiledTree:
    """What `compile_table` makes of a tree: the validated route table (`table.RouteEntry`
    records, what the cache stores) and the facts of the files it was read from (for the
    manifest)."""

    routes: list[RouteEntry]
    route_files: list[str]
    layout_files: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    read: list[RouteFile | Declarations | ParamsFile] = field(default_factory=list, repr=False)
    param_files: list[str] = field(default_factory=list)  # params/<name>.py (SPEC 14.1)

    def digests(self) -> dict[str, tuple[str, str]]:
        """Each route file, layout and params file -> (digest of its bytes, of its facts), for the
        manifest (`freshness`); computed on demand: `dev` re-compiles without them."""
        return {f.file: (f.digest, facts_digest(f)) for f in self.read}


# Called as each build step ends, with its name and a one-line detail, so that the CLI can
# print the steps as they happen rather than once the build is over.
StepCallback = Callable[[str, str], None]


def _unreported(step: str, detail: str) -> None:
    pass


# Makes the OpenAPI document of the project at `root` from the cache saved in the folder it is
# given (`fastapi_route.openapi_child.for_build`: the app's code runs, in another process).
# Passed in by the callers that honour build.openapi; the pipeline itself runs no user code.
DocumentMaker = Callable[[Path, Config, Path], Made]


def compile_table(
    root: Path, config: Config, *, on_step: StepCallback = _unreported,
    on_file: FileCallback | None = None, facts: Facts | None = None,
    checked: Checked | None = None,
) -> CompiledTree:
    """Scan and validate; raise BuildFailed with every problem when there is an error.
    `facts` and `checked` keep what the last compile read and found (`dev`)."""
    scanned = scan(root, config, on_file=on_file, facts=facts)
    on_step("Scanned routes", f"{len(scanned.files)} route files in {config.route_dir}/")
    routes, problems = validate(scanned, config, checked)
    if errors_only(problems):
        raise BuildFailed(problems)
    on_step("Validated", f"{len(problems)} warnings" if problems else "no problems")
    return CompiledTree(routes, sorted(f.file for f in scanned.files),
                 sorted(layout.file for layout in scanned.layouts), problems,
                 [*scanned.files, *scanned.layouts, *scanned.params],
                 sorted(p.file for p in scanned.params))


@dataclass
class BuildResult:
    table: CompiledTree
    manifest: Manifest
    cache_path: Path
    seconds: float


def build(
    root: Path, config: Config, *, force: bool = False, into: Path | None = None,
    on_step: StepCallback = _unreported, on_file: FileCallback | None = None,
    make_document: DocumentMaker | None = None,
) -> BuildResult:
    """Compile the table and save the cache into `into` (default: the project's cache_dir).

    With build.openapi and a `make_document`, the OpenAPI document is made from the new cache
    (saved to a temporary folder first) and saved with it, its record in the manifest.
    Nothing is touched until validation passes and the document is made, so a failed build
    keeps the previous cache.
    """
    started = time.perf_counter()
    # Stamps (`freshness.stamps`) are of this disk: for the project's own cache, not a
    # wheel's, and not when the bytes must depend on the sources only.
    stamped_since = (None if into is not None or source_date_epoch() is not None
                     else file_system_now(root))
    table = compile_table(root, config, on_step=on_step, on_file=on_file)
    level = config.build.compression_level
    data, original_size = codec.encode(table.routes, level)
    on_step("Compressed", f"zlib level {level}")
    manifest = Manifest.of_build(
        table.routes, table.route_files, data, original_size, level,
        cache_dir=config.build.cache_dir, route_dir=config.route_dir,
        layout_files=table.layout_files, digests=table.digests(),
        param_files=table.param_files,
        stamps=stamps(root, [*table.route_files, *table.layout_files, *table.param_files],
                      stamped_since),
    )
    document = None
    if config.build.openapi and make_document is not None:
        with tempfile.TemporaryDirectory(prefix="fastapi-route-openapi-") as staging:
            store.save(Path(staging), data, manifest.to_json())
            made = make_document(root, config, Path(staging))
        document = made.body
        manifest = dataclasses.replace(manifest, openapi=BakedDocument.of(
            made.body, fingerprint=manifest.fingerprint, openapi_url=made.openapi_url,
            root=root, versions=made.versions, made=made))
        on_step("Made OpenAPI document", f"{store.OPENAPI_FILE}, {len(made.body)} bytes")
    target = into if into is not None else root / config.build.cache_dir
    path = store.save(target, data, manifest.to_json(), force=force, document=document)
    on_step("Saved", f"{config.build.cache_dir}/" if into is None else str(path))
    return BuildResult(table, manifest, path, time.perf_counter() - started)
