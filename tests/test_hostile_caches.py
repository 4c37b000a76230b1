"""Hostile caches: the cache is untrusted input when it is loaded.

Corrupted, truncated, swapped, foreign-version and forged caches (pickles that reach for
os.system, exec, Path.touch or Popen through every opcode that can call something, with the
hash forged to match) are all refused with CacheError; through the real CLI, `status` and
`run` exit 1 with a message and no traceback; and nothing runs: every payload would create a
marker file, each is first proven live with plain `pickle.loads`, and the marker is absent
after our loader saw it. Bombs (zlib, pickle memo) are refused without using the memory they
ask for, and odd files in the cache's place (FIFO, /dev/zero, folders) never hang a reader.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from limits import SMALL_TREE as TREE
from limits import time_limit
from servers import child_env, free_port, run_cli

from fastapi_route.config import load_config
from fastapi_route.errors import CacheError, NoBuildError
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline import safepickle
from fastapi_route.pipeline.build import build
from fastapi_route.pipeline.manifest import FORMAT_VERSION
from fastapi_route.table import RouteEntry

OTHER_TREE = {
    "routes/index.py": "def GET(request):\n    return {}\n",
    "routes/shop/[item]/route.py": "def PUT(request, item):\n    return {}\n",
}
MEND = "fastapi-route clean && fastapi-route build --force"

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="FIFOs, SIGALRM and RLIMIT_AS are POSIX"
)



MEMORY_MARGIN = 1 << 30  # bytes a load may add to this process before allocations fail


@contextlib.contextmanager
def memory_guard() -> Iterator[None]:
    """Cap this process's address space a margin above what it uses now, so a loader that let
    a bomb through fails with MemoryError (which the caller then reports as a failure)
    instead of taking the machine down (the unbounded loader was OOM-killed at 24 GB)."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = pages * os.sysconf("SC_PAGE_SIZE") + MEMORY_MARGIN
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def no_memory_error(exc: BaseException) -> None:
    """The loader reports failures `from None`, but keeps the cause as __context__."""
    cause = exc.__context__
    assert not isinstance(cause, MemoryError), "the loader tried to allocate without bound"


def write_project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def built(root: Path, files: dict[str, str] = TREE, level: int = 6) -> Path:
    write_project(root, files)
    build(root, load_config(root).with_build(compression_level=level))
    return root / ".cache"


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return built(tmp_path / "app")


def manifest_of(cache: Path) -> dict[str, object]:
    return json.loads((cache / "manifest.json").read_text())  # type: ignore[no-any-return]


def forge(cache: Path, raw: bytes, **manifest_changes: object) -> None:
    """Replace routes.dat by `raw` compressed, with a manifest whose hash matches: what an
    attacker who can write the cache would do."""
    data = zlib.compress(raw)
    manifest = manifest_of(cache)
    manifest.update(routes_sha256=hashlib.sha256(data).hexdigest(), original_size=len(raw),
                    compressed_size=len(data), **manifest_changes)
    (cache / "routes.dat").write_bytes(data)
    (cache / "manifest.json").write_text(json.dumps(manifest))


def refused(cache: Path, hint: str = MEND) -> CacheError:
    with time_limit(30), memory_guard(), pytest.raises(CacheError) as info:
        cache_io.load(cache)
    no_memory_error(info.value)
    message = str(info.value)
    assert "Traceback" not in message
    if not isinstance(info.value, NoBuildError):
        assert hint in message, message
    assert len(message) < 2000, "an error message must stay readable"
    return info.value


def cli_refuses(root: Path, cwd: Path, expect: str = "") -> None:
    """`status` and `run` (which must fail before binding its port) both exit 1, cleanly."""
    for args in (["status"], ["run", "--host", "127.0.0.1", "--port", str(free_port())]):
        result = run_cli([*args, "--project", str(root)], cwd=cwd, timeout=60)
        out = result.stdout
        assert result.returncode == 1, (args, out)
        assert "Traceback" not in out, out
        assert "Error:" in out and expect in out, (args, out)
        assert "Serving" not in out and "Uvicorn running" not in out, out


# --------------------------------------------------------------------------- forged pickles


def _str0(text: str) -> bytes:
    """A protocol-0 STRING argument line."""
    return repr(text).encode() + b"\n"


def _uni4(text: str) -> bytes:
    encoded = text.encode()
    return b"\x8c" + bytes([len(encoded)]) + encoded  # SHORT_BINUNICODE


class Evil:
    """pickle.dumps turns this into GLOBAL/STACK_GLOBAL + REDUCE calling `func(*args)`."""

    def __init__(self, func: Callable[..., object], *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, ...]:
        return (self.func, self.args)


def _calls(marker: Path) -> dict[str, Evil]:
    import builtins
    import pathlib

    m = str(marker)
    return {
        "os.system": Evil(os.system, f"touch '{m}'"),
        "exec": Evil(builtins.exec, f"open({m!r}, 'w').close()"),
        "eval": Evil(builtins.eval, f"__import__('pathlib').Path({m!r}).touch()"),
        "Path.touch": Evil(pathlib.Path.touch, pathlib.Path(m)),
        "Popen": Evil(subprocess.Popen, ["touch", m]),
    }


def payloads(marker: Path) -> dict[str, bytes]:
    """Pickles that create `marker` when a careless reader loads them."""
    m = str(marker)
    found: dict[str, bytes] = {}
    for name, evil in _calls(marker).items():
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with contextlib.suppress(pickle.PicklingError, AttributeError, TypeError):
                found[f"{name}-reduce-p{protocol}"] = pickle.dumps(evil, protocol=protocol)
        # Deep inside a table that is otherwise well formed.
        record = ["GET", "/", "routes/index.py", 1, [], evil, [], []]
        found[f"{name}-nested-p4"] = pickle.dumps(
            {"format_version": FORMAT_VERSION, "routes": [record]}, protocol=4
        )
    # Hand-written opcode forms that pickle.dumps never emits for these calls.
    found["os.system-GLOBAL-text"] = b"cos\nsystem\n(S" + _str0(f"touch '{m}'") + b"tR."
    found["os.system-INST"] = b"(S" + _str0(f"touch '{m}'") + b"ios\nsystem\n."
    found["os.system-OBJ"] = b"(cos\nsystem\nS" + _str0(f"touch '{m}'") + b"o."
    found["exec-INST"] = b"(S" + _str0(f"open({m!r}, 'w').close()") + b"ibuiltins\nexec\n."
    found["__builtin__.exec-GLOBAL"] = (
        b"c__builtin__\nexec\n(S" + _str0(f"open({m!r}, 'w').close()") + b"tR."
    )
    found["Popen-INST-list"] = (
        b"((S'touch'\nS" + _str0(m) + b"lisubprocess\nPopen\n."
    )
    found["os.system-STACK_GLOBAL"] = (
        b"\x80\x04" + _uni4("os") + _uni4("system") + b"\x93" + _uni4(f"touch '{m}'")
        + b"\x85R."
    )
    found["Path.touch-STACK_GLOBAL-qualname"] = (
        b"\x80\x04" + _uni4("pathlib") + _uni4("Path.touch") + b"\x93"
        + _uni4("pathlib") + _uni4("PosixPath") + b"\x93" + _uni4(m) + b"\x85R"
        + b"\x85R."
    )
    return found


def none_created(markers: list[Path]) -> bool:
    """After a moment for any Popen'd `touch` to have run, no marker exists."""
    time.sleep(0.5)
    return not any(m.exists() for m in markers)


def wait_for(path: Path, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.02)
    return path.exists()


@pytest.fixture(scope="module")
def live_payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, Path]]:
    """Every payload, proven live: plain pickle.loads does create its marker."""
    base = tmp_path_factory.mktemp("payloads")
    proven: dict[str, tuple[bytes, Path]] = {}
    for name in payloads(base / "probe"):
        marker = base / f"pwned-{len(proven)}"
        payload = payloads(marker)[name]
        with contextlib.suppress(Exception):
            pickle.loads(payload)  # the careless reader
        assert wait_for(marker), f"payload {name} is not live: the test would prove nothing"
        marker.unlink()
        proven[name] = (payload, marker)
    assert len(proven) >= 30, sorted(proven)
    return proven


def test_every_forged_pickle_is_refused_and_runs_nothing(
    cache: Path, live_payloads: dict[str, tuple[bytes, Path]]
) -> None:
    for name, (payload, marker) in live_payloads.items():
        forge(cache, payload)
        error = refused(cache)
        assert "tampered" in str(error), (name, str(error))
        assert not marker.exists(), f"{name} ran code"
    assert none_created([m for _, m in live_payloads.values()])


def test_opcode_check_alone_refuses_every_payload(
    cache: Path, live_payloads: dict[str, tuple[bytes, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """First layer: the opcode allow-list, even in front of an unpickler that admits globals."""
    monkeypatch.setattr(safepickle, "_NoGlobals", pickle.Unpickler)
    for name, (payload, marker) in live_payloads.items():
        forge(cache, payload)
        refused(cache)
        assert not marker.exists(), f"{name} ran code"
    assert none_created([m for _, m in live_payloads.values()])


def test_unpickler_alone_refuses_every_payload(
    cache: Path, live_payloads: dict[str, tuple[bytes, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second layer: the unpickler that admits no globals, without the opcode check."""
    monkeypatch.setattr(safepickle, "_check_opcodes", lambda raw: None)
    for name, (payload, marker) in live_payloads.items():
        forge(cache, payload)
        assert "forbidden global" in str(refused(cache)), name
        assert not marker.exists(), f"{name} ran code"
    assert none_created([m for _, m in live_payloads.values()])


CLI_REDUCE = {"os.system-reduce-p0", "os.system-reduce-p2", "os.system-reduce-p4"}


def test_cli_status_and_run_refuse_forged_pickles(
    tmp_path: Path, live_payloads: dict[str, tuple[bytes, Path]]
) -> None:
    """Through the real CLI (one project per payload, four at a time): every opcode form and
    every target at least once; the loader they share is checked on all payloads above."""
    chosen = {name: value for name, value in live_payloads.items()
              if "-reduce-" not in name or name in CLI_REDUCE}
    assert len(chosen) >= 13
    jobs = []
    for i, (name, (payload, marker)) in enumerate(sorted(chosen.items())):
        root = tmp_path / f"p{i}"
        forge(built(root), payload)
        jobs.append((name, root, marker))

    def check(job: tuple[str, Path, Path]) -> None:
        name, root, marker = job
        cli_refuses(root, tmp_path, "tampered")
        assert not marker.exists(), f"{name} ran code through the CLI"

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(check, jobs))
    assert none_created([marker for _, _, marker in jobs])


def test_records_of_every_wrong_shape_are_refused(cache: Path) -> None:
    good = ["GET", "/", "routes/index.py", 1, [], None, [], []]
    v = FORMAT_VERSION
    shapes: list[object] = [
        None, 1, "x", [], {}, {"format_version": v}, {"format_version": v + 1, "routes": []},
        {"format_version": v, "routes": "x"}, {"format_version": v, "routes": [None]},
        {"format_version": v, "routes": [good[:5]]}, {"format_version": v, "routes": [good * 2]},
        {"format_version": v, "routes": [["get", *good[1:]]]},
        {"format_version": v, "routes": [["GET", "no-slash", *good[2:]]]},
        {"format_version": v, "routes": [["GET", "/", None, *good[3:]]]},
        {"format_version": v, "routes": [["GET", "/", "f", "1", [], None, [], []]]},
        {"format_version": v, "routes": [["GET", "/", "f", 1, [1], None, [], []]]},
        {"format_version": v, "routes": [["GET", "/", "f", 1, [], 5, [], []]]},
        {"format_version": v, "routes": [["GET", "/", "f", 1, [], None, "x", []]]},
        {"format_version": v, "routes": [["GET", "/", "f", 1, [], None, [1], []]]},
        {"format_version": v, "routes": [["GET", "/", "f", 1, ["x" * 5_000_000], 5, [], []]]},
        {"format_version": v, "routes": [good[:7]]},  # a format 2 record
        {"format_version": v, "routes": [[*good[:7], None]]},
        {"format_version": v, "routes": [[*good[:7], [True]]]},
        {"format_version": v, "routes": [[*good[:7], [2000]]]},
        {"format_version": v, "routes": [[*good[:7], ["204"]]]},
    ]
    for shape in shapes:
        forge(cache, pickle.dumps(shape, protocol=4), total_routes=1)
        refused(cache)
    # Extra keys are harmless data.
    forge(cache, pickle.dumps({"format_version": v, "routes": [good], "x": [[[[]]]]}, protocol=4),
          total_routes=1)
    assert [r.path for r in cache_io.load(cache).routes] == ["/"]
    # Claiming another count than the data holds.
    forge(cache, pickle.dumps({"format_version": v, "routes": [good]}, protocol=4),
          total_routes=2)
    assert "counts 2 routes" in str(refused(cache))


# --------------------------------------------------------------------------- forged tables

EVIL_MODULE = (
    "import pathlib\npathlib.Path({marker!r}).touch()\n\ndef GET(request):\n    return {{}}\n"
)


def forge_table(cache: Path, records: list[list[object]], **manifest_changes: object) -> None:
    """A well-formed table of the forger's choosing, listed in the manifest as built."""
    files = sorted({str(r[2]) for r in records})
    forge(cache, pickle.dumps({"format_version": FORMAT_VERSION, "routes": records}, protocol=4),
          total_routes=len(records), **{"route_files": files, **manifest_changes})


def test_a_table_naming_a_file_outside_the_routes_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` imports each record's file: a forged record naming another file would run it."""
    from fastapi_route.project import Project
    from fastapi_route.runtime.app import create_app

    base = tmp_path / "base"
    cache = built(base / "app")
    marker = tmp_path / "pwned"
    (base / "evil.py").write_text(EVIL_MODULE.format(marker=str(marker)))
    (base / "app" / "routes" / "evil").mkdir()
    (base / "app" / "routes" / "evil" / "helper.py").write_text(EVIL_MODULE.format(
        marker=str(marker)))
    for file in [str(base / "evil.py"), "../evil.py", "routes/../../evil.py",
                 "routes/evil/helper.py", "routes/evil/../../../evil.py"]:
        forge_table(cache, [["GET", "/", file, 1, [], None, [], []]])
        # Live: without the check, building the app imports the file and creates the marker.
        with monkeypatch.context() as m:
            m.setattr(cache_io, "_where_routes_are", lambda manifest, routes: None)
            with contextlib.suppress(Exception):
                create_app(Project(base / "app"), source="cache")
        assert marker.exists(), f"{file}: the forged table would not have run anything"
        marker.unlink()
        assert "not a route file inside routes/" in str(refused(cache)), file
        cli_refuses(base / "app", tmp_path, "not a route file")
        assert not marker.exists(), f"{file} was imported"


@pytest.mark.parametrize(
    ("records", "changes", "expect"),
    [
        ([["GET", "/admin", "routes/index.py", 1, [], None, [], []]], {}, "not the URL of"),
        ([["GET", "/users/{user_id}", "routes/users/[user_id]/route.py", 1, [], None, [], []]], {},
         "not the URL of"),
        ([["GET", "/docs/{slug:path}", "routes/docs/[...slug]/route.py", 1, ["slug"], None, [],
           []]], {}, "not the URL of"),
        ([["GET", "/x", "routes/_private/x/route.py", 1, [], None, [], []]], {}, "would route"),
        ([["GET", "/{id}/{id}", "routes/[id]/[id]/route.py", 1, ["id", "id"], None, [], []]], {},
         "would route"),
        ([["GET", "/{a:path}/b", "routes/[...a]/b/route.py", 1, ["a"], None, [], []]], {},
         "would route"),
        ([["GET", "/", "routes/index.py", 1, [], None, [], []]], {"route_dir": "../routes"},
         "not a folder inside"),
        ([["GET", "/", "/routes/index.py", 1, [], None, [], []]], {"route_dir": "/routes"},
         "not a folder inside"),
        ([["GET", "/", "routes//index.py", 1, [], None, [], []]], {}, "not a route file"),
        ([["GET", "/", "routes/./index.py", 1, [], None, [], []]], {}, "not a route file"),
        ([["GET", "/", "routes\\index.py", 1, [], None, [], []]], {}, "not a route file"),
        ([["GET", "/", "routes/index.py\x00", 1, [], None, [], []]], {}, "not a route file"),
        ([["GET", "/", "routes/" + "a/" * 2000 + "route.py", 1, [], None, [], []]], {},
         "not a route file"),
    ],
)
def test_tables_a_build_could_not_have_written_are_refused(
    cache: Path, records: list[list[object]], changes: dict[str, object], expect: str
) -> None:
    forge_table(cache, records, **changes)
    assert expect in str(refused(cache))


def test_a_record_not_listed_in_route_files_is_refused(cache: Path) -> None:
    forge_table(cache, [["GET", "/", "routes/index.py", 1, [], None, [], []]],
                route_files=["routes/other/route.py"])
    assert "not among the manifest's route_files" in str(refused(cache))


# --------------------------------------------------------------------------- bombs


BOMB_CHUNK = 1 << 20


def zlib_bomb(size: int) -> bytes:
    """A valid zlib stream of `size` zero bytes (a multiple of 1 MiB) in about size/1000
    bytes, made in milliseconds: after a full flush the deflater starts afresh, so each 1 MiB
    block compresses to the same bytes."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflater.compress(bytes(BOMB_CHUNK)) + deflater.flush(zlib.Z_FULL_FLUSH)
    again = deflater.compress(bytes(BOMB_CHUNK)) + deflater.flush(zlib.Z_FULL_FLUSH)
    assert block == again
    adler = ((size % 65521) << 16) | 1  # adler32 of `size` zero bytes
    body = block * (size // BOMB_CHUNK) + deflater.flush()
    return b"\x78\xda" + body + adler.to_bytes(4, "big")


def test_zlib_bomb_is_a_valid_stream_of_the_claimed_size() -> None:
    size = 192 << 20  # three times the loader's bound
    bomb = zlib_bomb(size)
    inflater = zlib.decompressobj()
    total, rest = 0, bomb
    while rest:
        total += len(inflater.decompress(rest, 1 << 26))
        rest = inflater.unconsumed_tail
    assert inflater.eof and total == size


_MEASURE = """
import json, resource, sys, time
from pathlib import Path
from fastapi_route.errors import CacheError
from fastapi_route.pipeline import cache
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    cache.load(Path(sys.argv[1]))
    outcome = "loaded"
except CacheError as exc:
    outcome = str(exc)
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - start,
                  "grew_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}))
"""


def measure_load(cache: Path) -> dict[str, object]:
    """cache.load in a fresh process: its outcome, time and peak memory growth."""
    result = subprocess.run([sys.executable, "-c", _MEASURE, str(cache)], env=child_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_zlib_bomb_is_refused_without_inflating_it(cache: Path, tmp_path: Path) -> None:
    data = zlib_bomb(2 << 30)  # 2 GiB of zeros in about 2 MB
    assert len(data) < 3 << 20
    manifest = manifest_of(cache)
    manifest.update(routes_sha256=hashlib.sha256(data).hexdigest(), original_size=2 << 30)
    (cache / "routes.dat").write_bytes(data)
    (cache / "manifest.json").write_text(json.dumps(manifest))
    result = measure_load(cache)
    assert "decompresses to more than" in str(result["outcome"]), result
    assert float(result["grew_mb"]) < 300, result  # inflating it would take 2048 MB
    assert float(result["seconds"]) < 10, result
    cli_refuses(cache.parent, tmp_path, "decompresses to more than")


def test_pickle_memo_bomb_is_refused_without_allocating(cache: Path) -> None:
    """LONG_BINPUT's index sizes the C unpickler's memo: 0x08000000 would be 2 GB."""
    forge(cache, b"\x80\x04N" + b"r" + struct.pack("<I", 0x0800_0000) + b".")
    result = measure_load(cache)
    assert "LONG_BINPUT" in str(result["outcome"]), result
    assert float(result["grew_mb"]) < 100 and float(result["seconds"]) < 5, result


def test_data_too_large_to_read_is_refused_before_reading(cache: Path) -> None:
    with open(cache / "routes.dat", "wb") as f:
        f.truncate(cache_io.MAX_DATA_BYTES + 1)  # sparse: no disk used
    assert "more than" in str(refused(cache))
    with open(cache / "manifest.json", "wb") as f:
        f.truncate(cache_io.MAX_MANIFEST_BYTES + 1)
    assert "more than" in str(refused(cache))


# --------------------------------------------------------------------------- odd files


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _dangling(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.parent / "nowhere")


def _unreadable(path: Path) -> None:
    path.chmod(0)


@pytest.mark.parametrize("name", ["routes.dat", "manifest.json"])
@pytest.mark.parametrize("make", [_fifo, _dev_zero, _folder, _dangling, _unreadable])
def test_odd_files_in_the_cache_never_hang_or_flood(
    cache: Path, name: str, make: Callable[[Path], None]
) -> None:
    if make is _unreadable and os.geteuid() == 0:
        pytest.skip("root reads anything")
    make(cache / name)
    refused(cache)  # under a 30 s alarm: a FIFO read would block forever


FV = b'{"format_version": %d, ' % FORMAT_VERSION  # the fields below are what is wrong


@pytest.mark.parametrize(
    "content",
    [
        b"", b"\xff\xfe{}", b"null", b"[]", b'"x"', b"{" * 100_000, b"[" * 100_000 + b"]" * 100_000,
        FV + b'"routes_sha256": 5}',
        FV + b'"routes_sha256": "x", "total_routes": "1"}',
        FV + b'"routes_sha256": "x", "total_routes": true}',
        FV + b'"routes_sha256": "x", "total_routes": 1, "route_files": 5}',
        FV + b'"routes_sha256": "x", "total_routes": 1, "route_files": [[1]]}',
        FV + b'"routes_sha256": "x", "total_routes": 1, "route_dir": []}',
    ],
)
def test_malformed_manifests_are_refused(cache: Path, content: bytes) -> None:
    (cache / "manifest.json").write_bytes(content)
    refused(cache)


def test_wrong_types_in_a_manifest_whose_hash_matches(cache: Path, tmp_path: Path) -> None:
    """A forger who gets the hash right still cannot crash the stale check with odd types."""
    manifest = manifest_of(cache)
    manifest["route_files"] = [["routes/index.py"]]
    (cache / "manifest.json").write_text(json.dumps(manifest))
    assert "route_files" in str(refused(cache))
    cli_refuses(cache.parent, tmp_path, "route_files")


# --------------------------------------------------------------------------- corruption


def _cache_bytes(cache: Path) -> tuple[bytes, bytes]:
    return (cache / "routes.dat").read_bytes(), (cache / "manifest.json").read_bytes()


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, list[RouteEntry]]:
    cache = built(tmp_path_factory.mktemp("original") / "app")
    data, manifest = _cache_bytes(cache)
    return data, manifest, cache_io.load(cache).routes


def load_pair(data: bytes, manifest: bytes) -> list[RouteEntry] | CacheError:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / ".cache"
        cache.mkdir()
        (cache / "routes.dat").write_bytes(data)
        (cache / "manifest.json").write_bytes(manifest)
        try:
            with time_limit(30), memory_guard():
                return cache_io.load(cache).routes
        except CacheError as exc:
            no_memory_error(exc)
            assert "Traceback" not in str(exc) and len(str(exc)) < 2000
            return exc


def rehash(manifest: bytes, data: bytes) -> bytes:
    fields = json.loads(manifest)
    fields["routes_sha256"] = hashlib.sha256(data).hexdigest()
    return json.dumps(fields).encode()


settings_fast = settings(max_examples=150, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings_fast
@given(st.data())
def test_any_flipped_byte_in_routes_dat_is_refused(original, data: st.DataObject) -> None:
    raw, manifest, _ = original
    at = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[at]))
    corrupted = raw[:at] + bytes([value]) + raw[at + 1 :]
    assert isinstance(load_pair(corrupted, manifest), CacheError)  # the hash no longer matches


@settings_fast
@given(st.data())
def test_flipped_bytes_with_a_forged_hash_never_pass_as_another_table(
    original, data: st.DataObject
) -> None:
    raw, manifest, routes = original
    positions = data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=4))
    corrupted = bytearray(raw)
    for at in positions:
        corrupted[at] = data.draw(st.integers(0, 255))
    outcome = load_pair(bytes(corrupted), rehash(manifest, bytes(corrupted)))
    assert isinstance(outcome, CacheError) or outcome == routes  # adler32 guards the stream


@settings_fast
@given(st.data())
def test_corrupted_pickles_recompressed_are_refused_or_harmless(
    original, data: st.DataObject
) -> None:
    """Corruption inside the pickle, with a valid zlib stream and hash: whatever the bytes
    become (a GLOBAL, a huge length, a memo index...), the outcome is CacheError or a table of
    well-formed records; never another exception, a hang, or a call."""
    raw, manifest, _ = original
    pickled = bytearray(zlib.decompress(raw))
    for at in data.draw(st.lists(st.integers(0, len(pickled) - 1), min_size=1, max_size=4)):
        pickled[at] = data.draw(st.sampled_from([*b"cRi\x93ob\x81\x92rqpgh\x95\xff\x00",
                                                  *range(256)]))
    compressed = zlib.compress(bytes(pickled))
    outcome = load_pair(compressed, rehash(manifest, compressed))
    if not isinstance(outcome, CacheError):
        assert all(isinstance(r, RouteEntry) and r.path.startswith("/") for r in outcome)


@settings_fast
@given(st.data())
def test_any_flipped_byte_in_the_manifest_is_refused_or_harmless(
    original, data: st.DataObject
) -> None:
    raw, manifest, routes = original
    at = data.draw(st.integers(0, len(manifest) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != manifest[at]))
    outcome = load_pair(raw, manifest[:at] + bytes([value]) + manifest[at + 1 :])
    assert isinstance(outcome, CacheError) or outcome == routes


def test_truncation_at_every_length(original) -> None:
    raw, manifest, routes = original
    for n in range(len(raw)):
        cut = raw[:n]
        assert isinstance(load_pair(cut, manifest), CacheError), n
        assert isinstance(load_pair(cut, rehash(manifest, cut)), CacheError), n
    pickled = zlib.decompress(raw)
    for n in range(len(pickled)):
        cut = zlib.compress(pickled[:n])
        assert isinstance(load_pair(cut, rehash(manifest, cut)), CacheError), n
    for n in range(len(manifest)):
        outcome = load_pair(raw, manifest[:n])
        # Only cutting the final newline leaves valid JSON, and the same table.
        assert isinstance(outcome, CacheError) or (n == len(manifest) - 1 and outcome == routes)


def test_trailing_bytes_after_the_stream_are_refused(original) -> None:
    raw, manifest, _ = original
    longer = raw + b"\x00" * 16
    assert "follow the end" in str(load_pair(longer, rehash(manifest, longer)))


# --------------------------------------------------------------------------- foreign caches


def test_files_swapped_between_two_projects(tmp_path: Path) -> None:
    a = built(tmp_path / "a")
    b = built(tmp_path / "b", OTHER_TREE)
    (tmp_path / "b2").mkdir()
    shutil.copytree(b, tmp_path / "b2" / ".cache")
    mixed = tmp_path / "b2" / ".cache"
    shutil.copy(a / "routes.dat", mixed / "routes.dat")  # data of a, manifest of b
    assert "SHA-256" in str(refused(mixed))
    shutil.copy(b / "routes.dat", mixed / "routes.dat")
    shutil.copy(a / "manifest.json", mixed / "manifest.json")  # manifest of a, data of b
    assert "SHA-256" in str(refused(mixed))
    # Two builds of one project at other levels: still a mismatched pair.
    one = built(tmp_path / "c1", level=1)
    nine = built(tmp_path / "c9", level=9)
    shutil.copy(one / "routes.dat", nine / "routes.dat")
    assert "SHA-256" in str(refused(nine))
    cli_refuses(tmp_path / "c9", tmp_path, "SHA-256")


def test_a_whole_cache_from_another_project_is_stale(tmp_path: Path) -> None:
    a = built(tmp_path / "a")
    b = built(tmp_path / "b", OTHER_TREE)
    shutil.rmtree(b)
    shutil.copytree(a, b)
    status = run_cli(["status", "--project", str(tmp_path / "b")], cwd=tmp_path)
    assert status.returncode == 0 and "Stale:" in status.stdout, status.stdout
    assert "routes/shop/[item]/route.py" in status.stdout, status.stdout
    strict = run_cli(["run", "--strict", "--port", str(free_port()), "--project",
                      str(tmp_path / "b")], cwd=tmp_path, timeout=60)
    assert strict.returncode == 1 and "stale" in strict.stdout, strict.stdout
    assert "Traceback" not in strict.stdout


V = FORMAT_VERSION


@pytest.mark.parametrize("version", [0, 1, V - 1, V + 1, 99, str(V), None, V + 0.0001, [V],
                                     {"v": V}])
def test_manifests_from_another_format_version(cache: Path, tmp_path: Path, version) -> None:
    manifest = manifest_of(cache)
    manifest["format_version"] = version
    manifest["fastapi_route_version"] = "9.9.9"
    (cache / "manifest.json").write_text(json.dumps(manifest))
    older = type(version) is int and 1 <= version < FORMAT_VERSION  # an older release's
    message = str(refused(cache, "fastapi-route build" if older else MEND))
    assert "format" in message and "9.9.9" in message, message
    if older:
        assert "rebuild it" in message, message
    if version == 1:  # the format of fastapi-route 0.3
        cli_refuses(cache.parent, tmp_path, "9.9.9")


def test_a_manifest_without_format_version(cache: Path) -> None:
    manifest = manifest_of(cache)
    del manifest["format_version"]
    (cache / "manifest.json").write_text(json.dumps(manifest))
    assert "format None" in str(refused(cache))


def test_missing_halves(cache: Path, tmp_path: Path) -> None:
    (cache / "routes.dat").unlink()
    assert "routes.dat is missing" in str(refused(cache))
    cli_refuses(cache.parent, tmp_path, "routes.dat is missing")
    (cache / "manifest.json").unlink()
    assert isinstance(refused(cache), NoBuildError)
    cli_refuses(cache.parent, tmp_path, "No valid build found")


def test_the_hint_mends_a_broken_cache(cache: Path, tmp_path: Path) -> None:
    """The fix the messages name does work: clean, then build --force."""
    forge(cache, b"cos\nsystem\n(S'true'\ntR.")
    root = cache.parent
    assert run_cli(["clean", "--project", str(root)], cwd=tmp_path).returncode == 0
    assert run_cli(["build", "--force", "--project", str(root)], cwd=tmp_path).returncode == 0
    assert len(cache_io.load(cache).routes) == 5
