"""Hostile route trees, property-based: whatever folder names, file contents and links a tree
holds, `compile_table` either succeeds or raises BuildFailed with coded, printable problems
(never another exception, never a hang); and when it succeeds, the app built from the tree
sends each listed route's example URL to exactly the route the table (what `fastapi-route
routes` prints) says serves it, checked by handlers that return their own `__file__`.

Each hypothesis example writes its tree into its own temporary folder (function-scoped fixtures
are not reset between examples).
"""

from __future__ import annotations

import asyncio
import contextlib
import keyword
import os
import re
import sys
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st
from limits import time_limit
from servers import run_cli

from fastapi_route.config import load_config
from fastapi_route.conventions import HTTP_METHODS, path_pieces
from fastapi_route.errors import BuildFailed
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline.build import CompiledTree, build, compile_table
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app
from fastapi_route.table import RouteEntry

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGALRM and symlinks")

CODES = {
    "DUPLICATE_METHOD", "DUPLICATE_ROUTE", "INVALID_HANDLER", "CIRCULAR_GROUP",
    "DYNAMIC_CONFLICT", "AMBIGUOUS_ROUTE", "ROUTE_FILE_CONFLICT", "SYNTAX_ERROR",
    "INVALID_SEGMENT", "NO_HANDLER", "SCAN_ERROR", "NO_ROUTE_DIR", "PORTABILITY",
    "SHADOWED_ROUTE", "SHADOWED_FILE",
}
TIME_LIMIT = 20.0  # seconds for one tree's compile; a hang fails the example
PATH_BUDGET = 3500  # bytes below the temp folder (PATH_MAX is 4096)
NAME_MAX = 255



# --------------------------------------------------------------------------- strategies

# Folder names that a file-system tree can hold and that probe the grammar.
NAMED = [
    "users", "me", "api", "v1.0", "a b", " lead", "trail ", "100%", "%2e%2e", "%41", "..a",
    "a..", "~", "-", "a?b", "a#b", "a:b", "a;b", "a&b=c", "a+b", "a\\b", "a'b", 'a"b',
    "é", "日本語", "Ω≈ç√", "😀", "e\u0301", "ﬁle", "\u200b", "\u202eevil", "a\tb", "a\nb",
    "CON", "nul", "*", "class", "def", "None", "os", "sys", "fastapi", "route", "index",
    "helpers", "route.py", "__init__", "[id]", "[user_id]", "[class]", "[request]", "[def]",
    "[None]", "[_]", "[ü]", "[ﬁ]",
    "[...slug]", "[...rest]", "[...class]", "[[...opt]]", "[...]", "[]", "[a b]", "[1x]",
    "[id", "id]", "a[id]", "[id]x", "[.id]", "[..id]", "[....id]", "{x}", "{", "}",
    "(group)", "(auth)", "(a b)", "()", "( )", "(", ")", "((x))", "(é)", "(_)",
    "_private", ".hidden", "__pycache__", "node_modules",
    "x" * NAME_MAX, "é" * 127, "[" + "a" * 253 + "]", "(" + "g" * 253 + ")",
    "[..." + "s" * 250 + "]",
]
# Bytes that are not UTF-8: Linux allows them in names; Python hands them over as surrogates.
UNDECODABLE = [os.fsdecode(b) for b in (b"\xff", b"caf\xe9", b"\xc0\xae\xc0\xae", b"a\x80b")]


def _fits(name: str) -> bool:
    try:
        size = len(os.fsencode(name))
    except UnicodeEncodeError:
        return False
    return 0 < size <= NAME_MAX and name not in (".", "..") and "/" not in name and (
        "\x00" not in name
    )


text_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
    min_size=1, max_size=12,
).filter(_fits)
identifiers = st.one_of(
    st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,10}\Z"),
    st.sampled_from([*keyword.kwlist, "request", "slug", "id", "ü", "ﬁ", "a b", "1x", ""]),
)
folder_names = st.one_of(
    st.sampled_from(NAMED),
    st.sampled_from(UNDECODABLE),
    text_names,
    identifiers.map(lambda n: f"[{n}]").filter(_fits),
    identifiers.map(lambda n: f"[...{n}]").filter(_fits),
    identifiers.map(lambda n: f"({n})").filter(_fits),
)

# Names every rule accepts, for the "tame" half of the trees (which then mostly build, so the
# request side of the property gets exercised too).
VALID_NAMED = [
    "users", "me", "api", "v1.0", "a b", " lead", "trail ", "100%", "%2e%2e", "%41", "..a",
    "a..", "~", "-", "a?b", "a#b", "a:b", "a;b", "a&b=c", "a+b", "a\\b", "a'b", 'a"b',
    "é", "日本語", "Ω≈ç√", "😀", "e\u0301", "ﬁle", "\u200b", "\u202eevil", "CON", "nul", "*",
    "class", "def", "None", "os", "sys", "fastapi", "route", "index", "helpers", "route.py",
    "[id]", "[user_id]", "[_]", "[...slug]",
    "[...rest]", "(group)", "(auth)", "(a b)", "((x))", "(é)", "(_)",
    "x" * NAME_MAX, "é" * 127, "[" + "a" * 253 + "]", "(" + "g" * 253 + ")",
    "[..." + "s" * 250 + "]",
]
ascii_identifiers = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,10}\Z").filter(
    lambda n: not keyword.iskeyword(n) and n != "request"
)
tame_folder_names = st.one_of(
    st.sampled_from(VALID_NAMED),
    text_names.filter(lambda n: not set(n) & set("[]{}()") and all(
        unicodedata.category(c) != "Cc" for c in n)),
    ascii_identifiers.map(lambda n: f"[{n}]"),
    ascii_identifiers.map(lambda n: f"[...{n}]"),
    ascii_identifiers.map(lambda n: f"({n})"),
)

_PARAM = re.compile(r"^\[(?:\.\.\.)?(?P<name>[^\[\]]+)\]$")


def param_names(folders: tuple[str, ...]) -> list[str]:
    """The path parameters a handler below these folders must take (usable names only)."""
    names = []
    for folder in folders:
        m = _PARAM.match(folder)
        if m and m.group("name").isidentifier() and not keyword.iskeyword(m.group("name")):
            names.append(m.group("name"))
    return names


@dataclass(frozen=True)
class Handler:
    method: str  # may be lower case: not a handler then
    is_async: bool
    request: bool
    path_params: str  # "all", "missing", "typed"
    variadic: str  # "", "*args", "**kwargs", "*args, **kwargs"
    positional_only: bool
    extra_query: bool
    keyword_only: bool
    bound_not_def: bool  # `GET = other` instead of a def


@dataclass(frozen=True)
class RouteFileSpec:
    folders: tuple[str, ...]
    name: str  # route.py or index.py
    handlers: tuple[Handler, ...]
    content: str  # "ok", "syntax", "null", "latin1", "bom", "empty", "coding"


@dataclass(frozen=True)
class Link:
    at: tuple[str, ...]  # folder holding the link
    name: str
    target: str  # "ancestor", "self", "outside", "dangling", "sibling", "file_outside"


@dataclass
class TreeSpec:
    files: list[RouteFileSpec] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    require_request: bool = True
    helpers: bool = False  # a helpers.py (and __init__.py) beside each route file


handlers = st.builds(
    Handler,
    method=st.sampled_from([*HTTP_METHODS, "GET", "GET", "POST", "get"]),
    is_async=st.booleans(),
    request=st.sampled_from([True, True, True, False]),
    path_params=st.sampled_from(["all", "all", "typed", "missing"]),
    variadic=st.sampled_from(["", "", "", "", "*args", "**kwargs", "*args, **kwargs"]),
    positional_only=st.sampled_from([False] * 9 + [True]),
    extra_query=st.booleans(),
    keyword_only=st.booleans(),
    bound_not_def=st.sampled_from([False] * 15 + [True]),
)


def _tame_path(folders: list[str]) -> list[str]:
    kept: list[str] = []
    for folder in folders:
        if folder.startswith("[") and folder in kept:
            continue
        kept.append(folder)
        if folder.startswith("[..."):
            break
    return kept


tame_handlers = st.builds(
    Handler,
    method=st.sampled_from(HTTP_METHODS),
    is_async=st.booleans(),
    request=st.just(True),
    path_params=st.sampled_from(["all", "typed"]),
    variadic=st.just(""),
    positional_only=st.just(False),
    extra_query=st.booleans(),
    keyword_only=st.booleans(),
    bound_not_def=st.just(False),
)


@st.composite
def trees(draw: st.DrawFn) -> TreeSpec:
    """Half the trees are tame (valid names and handlers, so they mostly build and get
    requested), half hostile (anything goes, so they mostly fail with coded problems)."""
    tame = draw(st.booleans())
    # A small pool per tree, so that siblings collide (conflicts, duplicates, precedence).
    pool = draw(st.lists(tame_folder_names if tame else folder_names,
                         min_size=1, max_size=7, unique=True))
    paths = draw(st.lists(
        st.lists(st.sampled_from(pool), min_size=0, max_size=draw(st.sampled_from([3, 3, 6, 20]))),
        min_size=1, max_size=10,
    ))
    spec = TreeSpec(require_request=tame or draw(st.sampled_from([True, True, True, False])),
                    helpers=draw(st.booleans()))
    if tame:  # one folder per parameter name, a catch-all only last, one file per folder
        paths = list({tuple(_tame_path(folders)): None for folders in paths})
    for folders in paths:
        names = draw(st.sampled_from(
            [("route.py",)] * 6 + [("index.py",)] * 3 + ([] if tame else [("route.py", "index.py")])
        ))
        for name in names:
            found = (
                st.lists(tame_handlers, min_size=1, max_size=3, unique_by=lambda h: h.method)
                if tame else st.lists(handlers, min_size=0, max_size=3)
            )
            spec.files.append(RouteFileSpec(
                tuple(folders), name, tuple(draw(found)),
                draw(st.sampled_from(["ok", "ok", "ok", "bom", "coding"] if tame else
                                     ["ok"] * 20 + ["syntax", "null", "latin1", "bom", "empty",
                                                    "coding", *UNIMPORTABLE])),
            ))
    all_folders = sorted({f.folders[:i] for f in spec.files for i in range(1, len(f.folders) + 1)})
    if all_folders:
        for _ in range(draw(st.integers(0, 1 if tame else 3))):
            spec.links.append(Link(
                draw(st.sampled_from(all_folders)),
                draw(st.sampled_from(["link", "[id]", "(g)", "loop", "ext"])),
                draw(st.sampled_from(["outside", "dangling", "file_outside"] if tame else
                                     ["ancestor", "self", "outside", "dangling", "sibling",
                                      "file_outside"])),
            ))
    return spec


# --------------------------------------------------------------------------- writing trees


def handler_source(h: Handler, params: list[str]) -> str:
    if h.bound_not_def:
        return f"{h.method} = print\n"
    args: list[str] = []
    if h.request:
        args.append("request")
    wanted = params if h.path_params != "missing" else params[:-1] if params else []
    for p in wanted:
        args.append(f"{p}: int" if h.path_params == "typed" and p != params[-1] else p)
    if h.positional_only and args:
        args.append("/")
    if h.variadic:
        if "*args" in h.variadic:
            args.append("*args")
        if h.extra_query and h.keyword_only and "*args" not in h.variadic:
            args.append("*")
    elif h.keyword_only and h.extra_query:
        args.append("*")
    if h.extra_query:
        args.append("q: int = 1")
    if "**kwargs" in h.variadic:
        args.append("**kwargs")
    head = "async def" if h.is_async else "def"
    return (f"{head} {h.method}({', '.join(args)}):\n"
            f"    return {{'file': __file__, 'method': {h.method.upper()!r}}}\n\n\n")


def file_bytes(spec: RouteFileSpec) -> bytes:
    params = param_names(spec.folders)
    body = "".join(handler_source(h, params) for h in spec.handlers)
    if spec.content == "syntax":
        return (body + "def broken(:\n").encode()
    if spec.content == "null":
        return body.encode() + b"\x00\n"
    if spec.content == "latin1":
        return b"# caf\xe9\n" + body.encode()
    if spec.content == "bom":
        return b"\xef\xbb\xbf" + body.encode()
    if spec.content == "empty":
        return b""
    if spec.content == "coding":
        return b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + body.encode()
    if spec.content in UNIMPORTABLE:
        return body.encode() + UNIMPORTABLE[spec.content]
    return body.encode()


# Sources that ast.parse accepts or chokes on in ways other than SyntaxError, and that would
# fail only when imported: each must be a SYNTAX_ERROR at build time.
UNIMPORTABLE = {
    "duplicate_arg": b"def helper(a, a):\n    pass\n",
    "return_outside": b"return 1\n",
    "await_outside": b"await something\n",
    "nonlocal_module": b"def f():\n    nonlocal x\n",
    "deep_unary": b"x = " + b"-" * 200_000 + b"1\n",
    "deep_attribute": b"x = a" + b".b" * 300_000 + b"\n",
    "future_braces": b"from __future__ import braces\n",
}


def _fits_path(root: Path, rel: Path) -> bool:
    return len(os.fsencode(str(rel))) < PATH_BUDGET and len(os.fsencode(str(root / rel))) < 4000


def materialize(base: Path, spec: TreeSpec) -> Path:
    """Write the tree under base/app (plus base/outside for links out of it); return the root.
    Entries the file system refuses (too long a path) are left out."""
    root = base / "app"
    routes = root / "routes"
    routes.mkdir(parents=True)
    outside = base / "outside" / "ext"
    outside.mkdir(parents=True)
    (outside / "route.py").write_text(
        "def GET(request):\n    return {'file': __file__, 'method': 'GET'}\n", encoding="utf-8"
    )
    if not spec.require_request:
        (root / "config.py").write_text("build = {'require_request': False}\n", encoding="utf-8")
    for f in spec.files:
        rel = Path("routes", *f.folders, f.name)
        if not _fits_path(root, rel):
            continue
        try:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(file_bytes(f))
            if spec.helpers:  # module files that a folder of the same name must not shadow
                (root / rel).with_name("helpers.py").write_text("X = 1\n", encoding="utf-8")
                (root / rel).with_name("__init__.py").write_text("", encoding="utf-8")
        except OSError:  # a name the file system refuses
            continue
    for link in spec.links:
        folder = routes.joinpath(*link.at)
        where = folder / link.name
        if not folder.is_dir() or where.exists() or where.is_symlink():
            continue
        target = {
            "ancestor": folder.parent, "self": folder, "outside": outside,
            "dangling": base / "nowhere", "file_outside": outside / "route.py",
            "sibling": next((d for d in sorted(routes.iterdir())
                             if d.is_dir() and d.name != link.at[0]), folder),
        }[link.target]
        if link.target == "file_outside":
            where = folder / "route.py"
            if where.exists():
                continue
        with contextlib.suppress(OSError):
            os.symlink(target, where, target_is_directory=target.is_dir())
    return root


# --------------------------------------------------------------------------- the property


def _rank(piece: str) -> int:
    """This test's own reading of a template piece (no typed segments are generated here):
    static 0, [param] 1, [...catchall] 2."""
    if not piece.startswith("{"):
        return 0
    return 2 if piece.endswith(":path}") else 1


def example_url(route: RouteEntry, token: Iterator[str]) -> tuple[str, list[str]]:
    """A URL reaching `route`'s template, and its decoded segments."""
    segments: list[str] = []
    for piece in path_pieces(route.path):
        rank = _rank(piece)
        if rank == 0:
            segments.append(piece)
        elif rank == 1:
            segments.append(next(token))
        else:
            segments.extend((next(token), next(token)))
    return "/" + "/".join(quote(s, safe="") for s in segments), segments


def reference_match(
    routes: list[RouteEntry], method: str, segments: list[str]
) -> RouteEntry | None:
    """The spec's rule, written independently of the implementation: among the routes for
    this method whose template matches, the one that is most static at the first segment
    where they differ (static beats [param] beats [...catchall])."""

    def ranks(route: RouteEntry) -> tuple[int, ...] | None:
        pieces = path_pieces(route.path)
        out = []
        for i, piece in enumerate(pieces):
            rank = _rank(piece)
            if rank == 2:
                return (*out, 2) if i < len(segments) else None
            if i >= len(segments) or (rank == 0 and segments[i] != piece):
                return None
            out.append(rank)
        return tuple(out) if len(pieces) == len(segments) else None

    candidates = [(r, k) for r in routes if r.method == method and (k := ranks(r)) is not None]
    if not candidates:
        return None
    best = min(k for _, k in candidates)
    chosen = [r for r, k in candidates if k == best]
    assert len(chosen) == 1, f"validation let an ambiguity through: {chosen}"
    return chosen[0]


def tokens_for(table: CompiledTree) -> Iterator[str]:
    """Values for path parameters: numbers (an `int` parameter accepts them) that no static
    folder is named, so they never select a static route by accident."""
    statics = {p for r in table.routes for p in path_pieces(r.path)}
    n = 7300
    while True:
        n += 1
        if str(n) not in statics:
            yield str(n)


def check_requests(root: Path, table: CompiledTree) -> int:
    """Request every route's example URL; return how many reached the route itself.

    Requests go through httpx's ASGI transport, which decodes the path once, as uvicorn does.
    (Starlette's TestClient decodes it twice, so a folder named `%41` would look unreachable.)
    """
    app = create_app(Project(root), source="scan")
    return asyncio.run(_check_requests(app, root, table))


async def _check_requests(app: FastAPI, root: Path, table: CompiledTree) -> int:
    transport = httpx.ASGITransport(app=app)
    token = tokens_for(table)
    own = 0
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for route in table.routes:
            url, segments = example_url(route, token)
            expected = reference_match(table.routes, route.method, segments)
            assert expected is not None, (route, url)
            response = await client.request(route.method, url)
            where = f"{route.method} {url} (template {route.path}, {route.file})"
            assert response.status_code == 200, (where, response.status_code,
                                                 response.text[:500])
            if route.method == "HEAD":
                assert response.content == b"", where
                continue
            body = response.json()
            assert body == {"file": str(root / expected.file), "method": expected.method}, (
                where, body, expected,
            )
            own += expected is route
            if route.method == "GET":
                head = await client.request("HEAD", url)
                assert head.status_code == 200 and head.content == b"", where
    return own


def _forget_modules(before: set[str]) -> None:
    for name in set(sys.modules) - before:
        if name.startswith("_fastapi_route_project_"):
            del sys.modules[name]


def compile_or_fail(root: Path) -> CompiledTree | BuildFailed:
    """compile_table, bounded in time; BuildFailed comes back as a value, checked here."""
    try:
        with time_limit(TIME_LIMIT):
            return compile_table(root, load_config(root))
    except BuildFailed as exc:
        errors = [p for p in exc.problems if not p.warning]
        assert errors, "BuildFailed without an error"
        for p in exc.problems:
            assert p.code in CODES, p
            rendered = p.render()
            rendered.encode("utf-8")  # no lone surrogates: it can be printed
            assert all(line.isprintable() for line in rendered.split("\n")), repr(rendered)
        return exc


@dataclass(frozen=True)
class Outcome:
    built: bool
    routes: int = 0  # in the table
    own: int = 0  # example URLs that reached their own route


def run_tree(spec: TreeSpec) -> Outcome:
    """The property for one tree; returns what it got to check."""
    before = set(sys.modules)
    with tempfile.TemporaryDirectory(prefix="hostile-tree-") as tmp:
        root = materialize(Path(tmp), spec)
        outcome = compile_or_fail(root)
        if isinstance(outcome, BuildFailed):
            return Outcome(built=False)
        # The cache of any tree that builds passes every check the loader makes.
        build(root, load_config(root))
        assert cache_io.load(root / ".cache").routes == outcome.routes
        try:
            own = check_requests(root, outcome)
        finally:
            _forget_modules(before)
        return Outcome(built=True, routes=len(outcome.routes), own=own)


H = Handler("GET", False, True, "all", "", False, False, False, False)
DEEP = (*(f"d{i}" for i in range(19)), "[leaf]")


@settings(
    max_examples=int(os.environ.get("FASTAPI_ROUTE_HOSTILE_EXAMPLES", "150")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
@given(spec=trees())
@example(spec=TreeSpec([RouteFileSpec(DEEP, "route.py", (H,), "ok")]))
@example(spec=TreeSpec([
    RouteFileSpec(("x" * NAME_MAX,), "route.py", (H,), "ok"),
    RouteFileSpec(("é" * 127, "[" + "a" * 253 + "]"), "index.py", (H,), "ok"),
]))
@example(spec=TreeSpec(
    [RouteFileSpec(("a", "b"), "route.py", (H,), "ok")],
    [Link(("a", "b"), "loop", "ancestor"), Link(("a",), "ext", "outside")],
))
@example(spec=TreeSpec([
    RouteFileSpec(("users", "me"), "route.py", (H,), "ok"),
    RouteFileSpec(("users", "[id]"), "route.py", (H,), "ok"),
    RouteFileSpec(("users", "[...rest]"), "route.py", (H,), "ok"),
    RouteFileSpec(("[...all]",), "route.py", (H,), "ok"),
    RouteFileSpec(("(g)", "users", "[id]", "x"), "index.py", (H,), "ok"),
    RouteFileSpec(("a b", "100%", "%41", "é", "a\\b", "a?b#c"), "route.py", (H,), "ok"),
]))
def test_any_tree_builds_cleanly_or_fails_with_coded_problems(spec: TreeSpec) -> None:
    run_tree(spec)


def test_the_property_exercises_both_outcomes_and_requests() -> None:
    """The property's own generator and check, on a fixed seed with no explicit examples:
    enough trees build (and get requested) and enough fail, so neither half is vacuous."""
    outcomes: list[Outcome] = []

    @seed(20240610)  # and no database: the same trees every run, whatever ran before
    @settings(max_examples=100, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(spec=trees())
    def property_on_a_fixed_seed(spec: TreeSpec) -> None:
        outcomes.append(run_tree(spec))

    property_on_a_fixed_seed()
    built = [o for o in outcomes if o.built]
    stats = {"examples": len(outcomes), "built": len(built), "failed": len(outcomes) - len(built),
             "routes": sum(o.routes for o in built), "own": sum(o.own for o in built)}
    assert stats["examples"] >= 90, stats
    assert stats["built"] >= 10 and stats["failed"] >= 10, stats
    assert stats["own"] >= 20, stats
    print(f"hostile trees: {stats}")


# --------------------------------------------------------------------------- fixed cases


def _tree(tmp_path: Path, spec: TreeSpec) -> Path:
    return materialize(tmp_path, spec)


def test_symlink_loops_are_circular_group_and_never_hang(tmp_path: Path) -> None:
    root = _tree(tmp_path, TreeSpec([RouteFileSpec(("a", "b"), "route.py", (H,), "ok")]))
    routes = root / "routes"
    os.symlink(routes, routes / "a" / "b" / "up")  # back to the top
    os.symlink(routes / "a" / "p", routes / "a" / "q")  # q -> p -> q: a loop of links
    os.symlink(routes / "a" / "q", routes / "a" / "p")
    (routes / "c").mkdir()
    os.symlink(routes / "d", routes / "c" / "to_d")  # c/to_d -> d, d/to_c -> c
    (routes / "d").mkdir()
    os.symlink(routes / "c", routes / "d" / "to_c")
    outcome = compile_or_fail(root)
    assert isinstance(outcome, BuildFailed)
    circular = sorted(p.file for p in outcome.problems if p.code == "CIRCULAR_GROUP")
    assert circular == ["routes/a/b/up", "routes/c/to_d/to_c", "routes/d/to_c/to_d"], circular


def test_link_out_of_the_tree_is_served_from_its_link_path(tmp_path: Path) -> None:
    spec = TreeSpec([RouteFileSpec(("a",), "route.py", (H,), "ok")],
                    [Link(("a",), "ext", "outside"), Link(("a",), "(g)", "dangling")])
    root = _tree(tmp_path, spec)
    table = compile_or_fail(root)
    assert isinstance(table, CompiledTree)
    assert [(r.path, r.file) for r in table.routes] == [
        ("/a", "routes/a/route.py"), ("/a/ext", "routes/a/ext/route.py"),
    ]
    before = set(sys.modules)
    try:
        assert check_requests(root, table) == 2
    finally:
        _forget_modules(before)


@pytest.mark.parametrize(
    ("folder", "code"),
    [
        (os.fsdecode(b"caf\xe9"), "INVALID_SEGMENT"),  # not UTF-8: no URL can reach it
        ("[ü]", "INVALID_SEGMENT"),  # Starlette reads only ASCII {names}
        ("[class]", "INVALID_SEGMENT"),
        ("a\nb", "INVALID_SEGMENT"),  # a control character: "$" would match "/a" + "\n"
    ],
)
def test_unservable_folder_names_are_coded(tmp_path: Path, folder: str, code: str) -> None:
    root = _tree(tmp_path, TreeSpec([RouteFileSpec((folder,), "route.py", (H,), "ok")]))
    outcome = compile_or_fail(root)
    assert isinstance(outcome, BuildFailed)
    assert [p.code for p in outcome.problems] == [code]


@pytest.mark.parametrize(
    ("signature", "fragment"),
    [
        ("request, /", "positional-only"),
        ("request, *args", "*args"),
        ("request, **kwargs", "**kwargs"),
        ("request, *args, q: int = 1, **kw", "*args, **kw"),
    ],
)
def test_signatures_fastapi_cannot_call_are_invalid_handlers(
    tmp_path: Path, signature: str, fragment: str
) -> None:
    root = tmp_path / "app"
    (root / "routes").mkdir(parents=True)
    (root / "routes" / "index.py").write_text(f"def GET({signature}):\n    return {{}}\n")
    outcome = compile_or_fail(root)
    assert isinstance(outcome, BuildFailed)
    [problem] = outcome.problems
    assert problem.code == "INVALID_HANDLER" and fragment in problem.message


@pytest.mark.parametrize("content", sorted(UNIMPORTABLE))
def test_files_that_only_fail_at_import_are_syntax_errors(tmp_path: Path, content: str) -> None:
    root = _tree(tmp_path, TreeSpec([RouteFileSpec(("a",), "route.py", (H,), content)]))
    outcome = compile_or_fail(root)
    assert isinstance(outcome, BuildFailed)
    assert [(p.code, p.file) for p in outcome.problems] == [("SYNTAX_ERROR", "routes/a/route.py")]


def test_cli_routes_prints_what_the_table_holds(tmp_path: Path) -> None:
    """The in-process table the property checks is what `fastapi-route routes` lists."""
    spec = TreeSpec([
        RouteFileSpec(("a b", "100%"), "route.py", (H,), "ok"),
        RouteFileSpec(("é", "[id]"), "route.py", (H,), "ok"),
        RouteFileSpec(("(g)", "[...rest]"), "index.py", (H,), "ok"),
    ])
    root = _tree(tmp_path, spec)
    table = compile_or_fail(root)
    assert isinstance(table, CompiledTree)
    result = run_cli(["routes", "--project", str(root)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()[1:-1]
    for r, line in zip(table.routes, lines, strict=True):
        assert line.startswith(r.method) and r.path in line, line
        assert line.endswith(f"{r.file}:{r.line}"), line


def test_a_package_below_a_folder_a_module_shadows(tmp_path: Path) -> None:
    """`helpers.py` beside a plain `helpers/` takes the name in Python; a real package below
    the folder (`helpers/helpers/__init__.py`) cannot be imported by name, but its route
    file is still served (found once by the property, without a database)."""
    spec = TreeSpec([RouteFileSpec((), "route.py", (H,), "ok"),
                     RouteFileSpec(("helpers", "helpers"), "route.py", (H,), "ok")],
                    helpers=True)
    assert run_tree(spec).routes == 2


@pytest.mark.parametrize("folders", [("a", "route"), ("b", "helpers")])
def test_folder_named_like_a_sibling_module(tmp_path: Path, folders: tuple[str, ...]) -> None:
    spec = TreeSpec([
        RouteFileSpec(folders[:1], "route.py", (H,), "ok"),
        RouteFileSpec(folders, "route.py", (H,), "ok"),
    ])
    root = _tree(tmp_path, spec)
    (root / "routes" / folders[0] / "helpers.py").write_text("X = 1\n")
    table = compile_or_fail(root)
    assert isinstance(table, CompiledTree)
    before = set(sys.modules)
    try:
        assert check_requests(root, table) == 2
    finally:
        _forget_modules(before)
