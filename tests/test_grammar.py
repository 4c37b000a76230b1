"""One grammar, three readers: validation, the cache's record check and module naming must
read every folder chain the same way, and the way the spec says (SPEC 2 and 11, the README's
convention table). The expected answers come from a small reading of the grammar written here,
never from the library's own parser."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from conftest import write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastapi_route.config import Config
from fastapi_route.errors import CacheError, Problem
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline import codec, store
from fastapi_route.pipeline.manifest import Manifest
from fastapi_route.pipeline.scan import scan
from fastapi_route.pipeline.validate import validate
from fastapi_route.project import Project
from fastapi_route.runtime.modules import ProjectModules
from fastapi_route.table import RouteEntry

# Folder names of every kind, valid and not: statics, params, typed params, catch-alls,
# optional catch-alls, groups, repeated parameter names, names the grammar refuses, and names
# that need mangling as modules.
FOLDERS = [
    "users", "api", "v1.0", "a-b", "é", "[id]", "[user_id]", "[...rest]", "[...id]",
    "[id=int]", "[id=uuid]", "[id=float]", "[id=str]", "[user_id=int]", "[[...opt]]",
    "[[...id]]", "(admin)", "(marketing site)",
    "[]", "[a b]", "{x}", "a[b]", "()", "[id=bool]", "[id:int]", "[[opt]]", "[[...]]", "[...]",
]
chains = st.lists(st.sampled_from(FOLDERS), min_size=0, max_size=4).map(tuple)


# --- the oracle: the folder grammar as the spec states it ---------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"  # a Python identifier (every name above is ASCII)
# SPEC 11: [id=int] is /users/{id:int}; str is Starlette's default convertor, written {id}
CONVERTOR = {"int": ":int", "uuid": ":uuid", "float": ":float", "str": ""}


class Folder:
    """One folder name as the spec reads it: kind (static, param, catchall, optional, group),
    the name, the parameter's type, and its piece of the URL template."""

    def __init__(self, kind: str, name: str, type_: str = "") -> None:
        self.kind, self.name, self.type = kind, name, type_
        self.piece = {
            "static": name, "group": "",
            "param": "{" + name + CONVERTOR.get(type_, "") + "}",
            "catchall": "{" + name + ":path}", "optional": "{" + name + ":path}",
        }[kind]


def read_folder(name: str) -> Folder | None:
    """None for a name the grammar refuses."""
    if m := re.fullmatch(r"\((.*\S.*)\)", name):  # (group): not in the URL; needs a name
        return Folder("group", m[1])
    if m := re.fullmatch(rf"\[\[\.\.\.({_NAME})\]\]", name):  # [[...x]]
        return Folder("optional", m[1])
    if m := re.fullmatch(rf"\[\.\.\.({_NAME})\]", name):  # [...x]
        return Folder("catchall", m[1])
    if m := re.fullmatch(rf"\[({_NAME})(?:=(int|float|uuid|str))?\]", name):  # [x], [x=int]
        return Folder("param", m[1], m[2] or "str")
    if set(name) & set("[](){}"):  # a bracket not around the whole name, `()`, or a brace
        return None  # (a brace in a static name would read as a template parameter)
    return Folder("static", name)


Served = tuple[str, tuple[str, ...], str | None]  # URL template, path params, catch-all


def read_chain(chain: tuple[str, ...]) -> tuple[list[int], set[Served]]:
    """The depths of the folders the grammar refuses in a chain, and (when there are none)
    what a route file below the chain serves. A folder is refused on its own, below a
    catch-all (SPEC 2: it takes the rest of the URL; groups are not in the URL), or when it
    names a parameter already in the path (a URL template cannot hold one name twice). A
    refused folder adds nothing to the path, so the folders below it are read without it."""
    bad: list[int] = []
    pieces: list[str] = []
    params: list[str] = []
    catchall: Folder | None = None
    for depth, name in enumerate(chain):
        folder = read_folder(name)
        if folder is None:
            bad.append(depth)
            continue
        if folder.kind == "group":
            continue
        if catchall is not None or (folder.kind != "static" and folder.name in params):
            bad.append(depth)
            continue
        pieces.append(folder.piece)
        if folder.kind != "static":
            params.append(folder.name)
        if folder.kind in ("catchall", "optional"):
            catchall = folder
    if bad:
        return bad, set()
    served = {("/" + "/".join(pieces), tuple(params), catchall and catchall.name)}
    if catchall is not None and catchall.kind == "optional":
        # SPEC 11: [[...slug]] also serves its folder's own URL, where slug is [].
        served.add(("/" + "/".join(pieces[:-1]), tuple(params[:-1]), catchall.name))
    return bad, served


def _template(path: str) -> str:
    return path.replace(":str}", "}")  # {id:str} and {id} are one template


def test_the_oracle_reads_the_spec_examples() -> None:
    """The oracle itself, on the examples SPEC 2 and 11 and the README give."""
    assert read_chain(()) == ([], {("/", (), None)})
    assert read_chain(("about",)) == ([], {("/about", (), None)})
    assert read_chain(("users", "[user_id]")) == ([], {("/users/{user_id}", ("user_id",),
                                                        None)})
    assert read_chain(("docs", "[...slug]")) == ([], {("/docs/{slug:path}", ("slug",), "slug")})
    assert read_chain(("(auth)", "login")) == ([], {("/login", (), None)})
    assert read_chain(("guides", "[[...page]]")) == ([], {
        ("/guides/{page:path}", ("page",), "page"), ("/guides", (), "page")})
    assert read_chain(("posts", "[post_id=int]")) == ([], {("/posts/{post_id:int}",
                                                           ("post_id",), None)})
    assert read_chain(("[id=bool]", "a[b]", "[...rest]", "x", "(g)", "[rest]")) == ([0, 1, 3, 5],
                                                                                   set())


# --- the library, against the oracle ------------------------------------------------------------


def _route_source(params: tuple[str, ...]) -> str:
    args = "".join(f", {p}" for p in params)
    return f"def GET(request{args}):\n    return {{}}\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=st.lists(chains, min_size=1, max_size=6, unique=True))
def test_validation_and_the_cache_check_read_folders_alike(tree: list[tuple[str, ...]]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        files = {}
        for chain in tree:
            _, served = read_chain(chain)
            params = max((p for _, p, _ in served), key=len, default=())
            files["/".join(("routes", *chain, "route.py"))] = _route_source(params)
        write_tree(root, files)
        config = Config()
        routes, problems = validate(scan(root, config), config)
        errors = [p for p in problems if not p.warning]
        # Validation names exactly the folders the grammar refuses...
        expected_bad = {"/".join(("routes", *chain[: depth + 1]))
                        for chain in tree for depth in read_chain(chain)[0]}
        assert {p.file for p in problems if p.code == "INVALID_SEGMENT"} == expected_bad
        for chain in tree:
            rel = "/".join(("routes", *chain, "route.py"))
            bad, served = read_chain(chain)
            got = {(_template(r.path), r.params, r.catchall) for r in routes if r.file == rel}
            if bad:
                assert got == set(), rel  # ...routes nothing below them...
            elif got or not errors:  # (else a clash with another chain: another problem)
                # ...and routes every other file at the URLs the spec gives it.
                assert got == {(_template(u), p, c) for u, p, c in served}, rel
        if problems and any(not p.warning for p in problems):
            return
        # The cache check accepts exactly the table validation made...
        cache = root / ".cache"
        _save(cache, routes)
        assert cache_io.load(cache).routes == routes
        # ... and refuses a record whose URL is not what its folders mean.
        for victim in routes:
            forged = [
                r._replace(path=r.path + "/x") if r == victim else r for r in routes
            ]
            _save(cache, forged)
            try:
                cache_io.load(cache)
            except CacheError as exc:
                assert "not the URL of its file" in str(exc)
            else:
                raise AssertionError(f"accepted a forged URL for {victim.file}")


def _save(cache: Path, routes: list[RouteEntry]) -> None:
    data, size = codec.encode(routes, 6)
    manifest = Manifest.of_build(
        routes, sorted({r.file for r in routes}), data, size, 6,
        cache_dir=".cache", route_dir="routes",
    )
    store.save(cache, data, manifest.to_json())


_NAMING = ProjectModules(Project(Path(tempfile.mkdtemp(prefix="grammar-"))))  # names only


@settings(max_examples=150, deadline=None)
@given(tree=st.lists(chains, min_size=1, max_size=8, unique=True))
def test_module_names_follow_the_grammar_and_never_collide(tree: list[tuple[str, ...]]) -> None:
    modules = _NAMING
    names: dict[str, str] = {}
    for chain in tree:
        rel = "/".join(("routes", *chain, "route.py"))
        name = modules.module_name(rel)
        assert all(part.isidentifier() for part in name.split(".")), name
        # `[id]` and `[id=str]` are one segment (SPEC 11: str is the untyped convertor), so
        # in one folder they are DYNAMIC_CONFLICT and never both imported; they share a name.
        same_route = re.sub(r"\[(\w+)=str\]", r"[\1]", rel)
        assert names.setdefault(name, same_route) == same_route, (
            f"{rel} and {names[name]} share {name}")
        # What a part is called says what the grammar read in the folder (docs/decisions.md:
        # <base>.routes.users._param_id.route), whatever the rest of the chain.
        for folder, part in zip(chain, name.split(".")[2:], strict=False):
            read = read_folder(folder)
            if read is None or read.kind == "static":
                continue
            if read.kind == "param":
                typed = "" if read.type == "str" else read.type
                assert part == f"_param{typed}_{read.name}", (folder, part)
            elif read.kind in ("catchall", "optional"):
                assert part == f"_{read.kind}_{read.name}", (folder, part)
            elif read.name.isidentifier():
                assert part == "_group_" + read.name, (folder, part)


def test_a_route_imports_under_the_name_the_grammar_gives(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "routes/(admin)/users/[user_id]/helpers.py": "VALUE = 7\n",
        "routes/(admin)/users/[user_id]/route.py":
            "from .helpers import VALUE\n\ndef GET(request, user_id: int):\n    return VALUE\n",
    })
    modules = ProjectModules(Project(tmp_path))
    module = modules.load("routes/(admin)/users/[user_id]/route.py")
    assert module.__name__.endswith(".routes._group_admin.users._param_user_id.route")
    assert module.VALUE == 7


def _validated(tmp_path: Path, files: dict[str, str]) -> tuple[list[RouteEntry], list[Problem]]:
    write_tree(tmp_path, files)
    config = Config()
    return validate(scan(tmp_path, config), config)


def test_validation_reports_every_bad_folder_of_a_chain(tmp_path: Path) -> None:
    routes, problems = _validated(tmp_path, {
        "routes/[a b]/ok/[...rest]/below/[]/route.py": "def GET(request):\n    return {}\n"})
    assert routes == []
    bad = [p for p in problems if p.code == "INVALID_SEGMENT"]
    assert [p.file for p in bad] == [
        "routes/[a b]", "routes/[a b]/ok/[...rest]/below", "routes/[a b]/ok/[...rest]/below/[]",
    ]
    assert "sits below the catch-all '[...rest]'" in bad[1].message


def test_a_helper_folder_is_never_part_of_a_route(tmp_path: Path) -> None:
    routes, _ = _validated(tmp_path, {
        "routes/api/_lib/route.py": "def GET(request):\n    return {}\n",
        "routes/api/route.py": "def GET(request):\n    return {}\n",
    })
    assert [r.file for r in routes] == ["routes/api/route.py"]


def test_a_route_says_url_params_catchall_and_groups(tmp_path: Path) -> None:
    routes, problems = _validated(tmp_path, {
        "routes/(g)/users/[id=int]/[...rest]/route.py":
            "def GET(request, id, rest):\n    return {}\n",
    })
    assert problems == []
    [route] = routes
    assert route.path == "/users/{id:int}/{rest:path}"
    assert route.params == ("id", "rest") and route.catchall == "rest"


def test_an_optional_catch_all_counts_as_dynamic_at_both_its_urls(tmp_path: Path) -> None:
    write_tree(tmp_path, {"routes/guides/[[...page]]/route.py":
                          "def GET(request, page):\n    return {}\n"})
    config = Config()
    routes, _ = validate(scan(tmp_path, config), config)
    assert sorted(r.path for r in routes) == ["/guides", "/guides/{page:path}"]
    assert all(r.is_dynamic for r in routes)
