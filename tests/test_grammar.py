"""One grammar, three readers: validation, the cache's record check and module naming must
read every folder chain the same way, because `conventions.shape_of` is their one home."""

from __future__ import annotations

import tempfile
from pathlib import Path

from conftest import write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastapi_route.config import Config
from fastapi_route.conventions import SegmentKind, shape_of
from fastapi_route.errors import CacheError
from fastapi_route.pipeline import cache as cache_io
from fastapi_route.pipeline import codec, store
from fastapi_route.pipeline.manifest import Manifest
from fastapi_route.pipeline.scan import scan
from fastapi_route.pipeline.validate import validate
from fastapi_route.project import Project
from fastapi_route.runtime.modules import ProjectModules
from fastapi_route.table import RouteEntry

# Folder names of every kind, valid and not: statics, params, catch-alls, groups, a repeated
# parameter name, names the grammar refuses, and names that need mangling as modules.
FOLDERS = [
    "users", "api", "v1.0", "a-b", "é", "[id]", "[user_id]", "[...rest]", "[...id]",
    "(admin)", "(marketing site)", "[]", "[a b]", "[[...opt]]", "{x}", "a[b]", "()",
]
chains = st.lists(st.sampled_from(FOLDERS), min_size=0, max_size=4).map(tuple)

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
            shape, _ = shape_of(chain)
            params = shape.params if shape else ()
            files["/".join(("routes", *chain, "route.py"))] = _route_source(params)
        write_tree(root, files)
        config = Config()
        routes, problems = validate(scan(root, config), config)
        bad_folders = {p.file for p in problems if p.code == "INVALID_SEGMENT"}
        by_file = {r.file: r for r in routes}
        for chain in tree:
            rel = "/".join(("routes", *chain, "route.py"))
            shape, errors = shape_of(chain)
            if shape is None:
                # Validation names exactly the folders the grammar refuses, and routes nothing.
                assert rel not in by_file
                for depth, _ in errors:
                    assert "/".join(("routes", *chain[: depth + 1])) in bad_folders
                continue
            if rel in by_file:  # else a collision with another chain (validation's business)
                r = by_file[rel]
                assert (r.path, r.params, r.catchall) == (shape.path, shape.params,
                                                         shape.catchall)
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
        assert names.setdefault(name, rel) == rel, f"{rel} and {names[name]} share {name}"
        shape, _ = shape_of(chain)
        if shape is None:
            continue
        # What a part is called says what the grammar read in the folder.
        for folder, part, segment in zip(chain, name.split(".")[2:], shape.segments,
                                         strict=False):
            prefix = {SegmentKind.PARAM: "_param_", SegmentKind.CATCHALL: "_catchall_"}
            if segment.kind in prefix:
                assert part == prefix[segment.kind] + segment.name, (folder, part)
            elif segment.kind is SegmentKind.GROUP and segment.name.isidentifier():
                assert part == "_group_" + segment.name, (folder, part)


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


def test_shape_of_reports_every_bad_folder_of_a_chain() -> None:
    shape, errors = shape_of(("[a b]", "ok", "[...rest]", "below", "[]"))
    assert shape is None
    assert [depth for depth, _ in errors] == [0, 3, 4]
    assert "sits below the catch-all '[...rest]'" in str(errors[1][1])


def test_a_helper_folder_is_never_part_of_a_route() -> None:
    shape, errors = shape_of(("api", "_lib"))
    assert shape is None and "holds helpers" in str(errors[0][1])


def test_a_shape_says_url_params_catchall_and_groups() -> None:
    shape, _ = shape_of(("(g)", "users", "[id]", "[...rest]"))
    assert shape is not None
    assert shape.path == "/users/{id}/{rest:path}"
    assert shape.params == ("id", "rest") and shape.catchall == "rest"
    assert shape.groups == ("g",)


def test_an_optional_catch_all_counts_as_dynamic_at_both_its_urls(tmp_path: Path) -> None:
    write_tree(tmp_path, {"routes/guides/[[...page]]/route.py":
                          "def GET(request, page):\n    return {}\n"})
    config = Config()
    routes, _ = validate(scan(tmp_path, config), config)
    assert sorted(r.path for r in routes) == ["/guides", "/guides/{page:path}"]
    assert all(r.is_dynamic for r in routes)
