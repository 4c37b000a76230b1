"""The hatchling build hook, in process: the hook object built by hand on a real builder
configuration (options, auto-detection, targets), then whole wheels built with hatchling's
WheelBuilder, which finds the hook through its installed `hatch` entry point."""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import write_tree
from hatchling.builders.wheel import WheelBuilder

from fastapi_route.cli import main
from fastapi_route.pipeline import cache as cache_io
from hatch_fastapi_route.plugin import FastAPIRouteBuildError, FastAPIRouteBuildHook

TABLE = "tool.hatch.build.targets.wheel.hooks.fastapi-route"

ROUTES = {
    "__init__.py": "",
    "config.py": """
        app_name = "My App"
        build = {"compression_level": 6}
    """,
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/items/[item_id]/route.py": """
        def GET(request, item_id: int):
            return {"item_id": item_id}


        def DELETE(request, item_id: int):
            return None
    """,
    "routes/files/[...path]/route.py": """
        def GET(request, path: list[str]):
            return {"segments": path}
    """,
    "routes/(auth)/login/route.py": """
        async def POST(request):
            return {"ok": True}
    """,
    "helpers.py": """
        def helper():
            return 1
    """,
}
SECOND_APP = {"second/__init__.py": "", "second/routes/index.py": ROUTES["routes/index.py"]}
ROUTE_FILES = [
    "routes/index.py",
    "routes/items/[item_id]/route.py",
    "routes/files/[...path]/route.py",
    "routes/(auth)/login/route.py",
]
DUPLICATE_GET = """
    def GET(request):
        return 1


    def GET(request):
        return 2
"""


def pyproject(packages: list[str] | None = None, options: str = "", name: str = "myapp") -> str:
    lines = [
        "[build-system]",
        'requires = ["hatchling", "fastapi-route"]',
        'build-backend = "hatchling.build"',
        "",
        "[project]",
        f'name = "{name}"',
        'version = "0.1.0"',
        "",
    ]
    if packages is not None:
        lines += ["[tool.hatch.build.targets.wheel]", f"packages = {json.dumps(packages)}", ""]
    lines += [f"[{TABLE}]", options, ""]
    return "\n".join(lines)


def make_app(root: Path, package: str = "myapp", files: Mapping[str, str] = ROUTES,
             packages: list[str] | None = None, options: str = "") -> Path:
    """An app project at `root` whose package `package` (a folder path) holds `files`."""
    write_tree(root, {f"{package}/{rel}": text for rel, text in files.items()})
    write_tree(root, {"pyproject.toml": pyproject([package] if packages is None else packages,
                                                  options)})
    return root


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """tempfile's folder for this test alone: every fastapi-route-* folder in it is ours."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    yield folder


def staging_dirs() -> list[str]:
    return sorted(p.name for p in Path(tempfile.gettempdir()).glob("fastapi-route-*"))


def hook_for(root: Path, options: dict[str, Any], target: str = "wheel",
             ) -> FastAPIRouteBuildHook:
    builder = WheelBuilder(str(root))
    return FastAPIRouteBuildHook(str(root), options, builder.config, builder.metadata,
                                 str(root / "dist"), target)


def initialize(hook: FastAPIRouteBuildHook, version: str = "standard") -> dict[str, Any]:
    build_data: dict[str, Any] = {"force_include": {}, "extra_metadata": {}}
    hook.initialize(version, build_data)
    return build_data


def build_wheel(root: Path, out: Path) -> Path:
    (wheel,) = WheelBuilder(str(root)).build(directory=str(out), versions=["standard"])
    return Path(wheel)


def read_wheel(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as z:
        return {name: z.read(name) for name in z.namelist()}


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    return result.output


# --- options -------------------------------------------------------------------------------


def test_the_entry_point_registers_the_hook_under_its_toml_name() -> None:
    from hatchling.plugin.manager import PluginManager

    assert PluginManager().build_hook.get("fastapi-route") is FastAPIRouteBuildHook


def test_an_unknown_option_is_an_error_naming_its_full_toml_path(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app")
    with pytest.raises(FastAPIRouteBuildError) as info:
        initialize(hook_for(root, {"projekt": "myapp"}))
    assert f"{TABLE}.projekt is not an option" in str(info.value)


@pytest.mark.parametrize("level", [0, 10, -1, "x", "9", 2.5, True])
def test_compression_level_must_be_an_integer_from_1_to_9(tmp_path: Path, level: Any) -> None:
    root = make_app(tmp_path / "app")
    with pytest.raises(FastAPIRouteBuildError) as info:
        initialize(hook_for(root, {"compression-level": level}))
    assert f"{TABLE}.compression-level must be an integer from 1 to 9" in str(info.value)
    assert staging_dirs() == []


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        ("nowhere", "project: 'nowhere' is not a folder"),
        ("myapp/__init__.py", "project: 'myapp/__init__.py' is not a folder"),
        ("", "project must be a folder path"),
        (3, "project must be a folder path"),
        ("../elsewhere", "project: '../elsewhere' is outside the folder of pyproject.toml"),
    ],
)
def test_project_must_be_a_folder_inside_the_project(
    tmp_path: Path, project: Any, expected: str
) -> None:
    root = make_app(tmp_path / "app")
    (tmp_path / "elsewhere" / "routes").mkdir(parents=True)
    with pytest.raises(FastAPIRouteBuildError) as info:
        initialize(hook_for(root, {"project": project}))
    assert f"{TABLE}.{expected}" in str(info.value)


def test_every_option_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app")
    with pytest.raises(FastAPIRouteBuildError) as info:
        initialize(hook_for(root, {"bogus": 1, "compression-level": 0, "project": "nowhere"}))
    message = str(info.value)
    for key in ("bogus", "compression-level", "project"):
        assert f"{TABLE}.{key}" in message


def test_hatchlings_own_hook_options_are_accepted(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app")
    hook = hook_for(root, {"dependencies": [], "enable-by-default": True,
                           "require-runtime-dependencies": False, "project": "myapp"})
    assert initialize(hook)["force_include"]
    hook.finalize("standard", {}, "")


def test_compression_level_option_overrides_config_py(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app")
    hook = hook_for(root, {"compression-level": 9})
    build_data = initialize(hook)
    manifest = next(src for src, dst in build_data["force_include"].items()
                    if dst.endswith("/manifest.json"))
    assert json.loads(Path(manifest).read_text())["compression_level"] == 9
    hook.finalize("standard", build_data, "")


# --- finding the project ---------------------------------------------------------------------


def test_the_one_package_holding_routes_is_found_by_itself(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", packages=["myapp", "other"])
    write_tree(root, {"other/__init__.py": "", "other/util.py": "X = 1\n"})
    hook = hook_for(root, {})
    build_data = initialize(hook)
    assert sorted(build_data["force_include"].values()) == [
        "myapp/.cache/.gitignore", "myapp/.cache/manifest.json", "myapp/.cache/routes.dat",
    ]
    ((marker, name),) = build_data["extra_metadata"].items()
    assert name == "fastapi_route_app.json"
    assert json.loads(Path(marker).read_text()) == {"package": "myapp"}
    hook.finalize("standard", build_data, "")
    assert staging_dirs() == []


def test_without_a_packages_setting_the_top_level_packages_are_searched(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app")
    write_tree(root, {"pyproject.toml": pyproject(None), "tools/__init__.py": ""})
    build_data = initialize(hook_for(root, {}))
    assert "myapp/.cache/routes.dat" in build_data["force_include"].values()


def test_two_packages_holding_routes_is_an_error_naming_both(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", packages=["myapp", "second"])
    write_tree(root, SECOND_APP)
    with pytest.raises(FastAPIRouteBuildError, match="several packages hold a project") as info:
        initialize(hook_for(root, {}))
    assert "myapp, second" in str(info.value)
    assert 'project = "' in str(info.value)  # the hint says how to choose
    assert staging_dirs() == []


def test_no_package_holding_routes_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_tree(root, {"pyproject.toml": pyproject(["lib"]), "lib/__init__.py": ""})
    with pytest.raises(FastAPIRouteBuildError, match="no package of this distribution holds"):
        initialize(hook_for(root, {}))
    assert staging_dirs() == []


def test_an_explicit_project_wins_over_detection(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", packages=["myapp", "second"])
    write_tree(root, SECOND_APP)
    hook = hook_for(root, {"project": "second"})
    build_data = initialize(hook)
    assert "second/.cache/routes.dat" in build_data["force_include"].values()
    hook.finalize("standard", build_data, "")


@pytest.mark.parametrize(("target", "version"), [("sdist", "standard"), ("wheel", "editable")])
def test_sdists_and_editable_wheels_are_left_alone(
    tmp_path: Path, target: str, version: str
) -> None:
    root = make_app(tmp_path / "app", files={**ROUTES, "routes/index.py": DUPLICATE_GET})
    build_data = initialize(hook_for(root, {"project": "myapp"}, target), version)
    assert build_data == {"force_include": {}, "extra_metadata": {}}
    assert staging_dirs() == []
    assert not (root / "myapp" / ".cache").exists()


def test_the_staging_folder_lives_from_initialize_to_finalize(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app")
    hook = hook_for(root, {})
    build_data = initialize(hook)
    assert len(staging_dirs()) == 1
    assert all(Path(src).is_file() for src in build_data["force_include"])
    hook.finalize("standard", build_data, "")
    assert staging_dirs() == []


# --- whole wheels ----------------------------------------------------------------------------


def test_the_wheel_carries_routes_cache_and_the_installed_app_marker(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app")
    wheel = build_wheel(root, tmp_path / "out")
    files = read_wheel(wheel)
    for rel in [*ROUTE_FILES, "__init__.py", "config.py", "helpers.py",
                ".cache/routes.dat", ".cache/manifest.json", ".cache/.gitignore"]:
        assert f"myapp/{rel}" in files, rel
    assert files["myapp/.cache/.gitignore"].strip() == b"*"
    marker = "myapp-0.1.0.dist-info/extra_metadata/fastapi_route_app.json"
    assert json.loads(files[marker]) == {"package": "myapp"}
    assert len(files) == len(set(files))  # no member twice
    manifest = json.loads(files["myapp/.cache/manifest.json"])
    assert manifest["total_routes"] == 5
    assert manifest["cache_dir"] == ".cache"
    assert sorted(manifest["route_files"]) == sorted(ROUTE_FILES)
    assert staging_dirs() == []


def test_no_absolute_path_is_baked_into_the_wheel(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app")
    files = read_wheel(build_wheel(root, tmp_path / "out"))
    data = files["myapp/.cache/routes.dat"]
    contents = {**files, "routes.dat (decompressed)": zlib.decompress(data)}
    needle = str(tmp_path).encode()
    leaks = [name for name, content in contents.items() if needle in content]
    assert leaks == []


def test_the_baked_cache_is_valid_where_the_wheel_is_unpacked(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app")
    wheel = build_wheel(root, tmp_path / "out")
    unpacked = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(unpacked)
    loaded = cache_io.load(unpacked / "myapp" / ".cache")
    assert {(r.method, r.path) for r in loaded.routes} >= {("GET", "/"), ("POST", "/login")}
    status = json.loads(cli("status", "--json", "--project", str(unpacked / "myapp")))
    assert status["valid"] is True
    assert status["stale"] is False


def test_a_stale_cache_in_the_source_tree_is_replaced_by_a_fresh_one(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", files={
        **ROUTES, ".cache/routes.dat": "garbage", ".cache/manifest.json": "{}",
    })
    files = read_wheel(build_wheel(root, tmp_path / "out"))
    assert [n for n in files if n.endswith("/routes.dat")] == ["myapp/.cache/routes.dat"]
    assert files["myapp/.cache/routes.dat"] != b"garbage"
    assert json.loads(files["myapp/.cache/manifest.json"])["total_routes"] == 5


def test_a_validation_error_fails_the_build_with_the_clis_message(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", files={**ROUTES, "routes/index.py": DUPLICATE_GET})
    out = tmp_path / "out"
    with pytest.raises(FastAPIRouteBuildError) as info:
        build_wheel(root, out)
    message = str(info.value)
    assert "DUPLICATE_METHOD routes/index.py:5" in message
    assert "DUPLICATE_METHOD routes/index.py:5" in cli("build", "--project", str(root / "myapp"))
    assert "Traceback" not in message
    assert staging_dirs() == []
    assert not list(out.glob("*.whl"))
    assert not (root / "myapp" / ".cache").exists()  # the source tree is never written


def test_every_validation_problem_is_in_the_error(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", files={
        **ROUTES,
        "routes/index.py": DUPLICATE_GET,
        "routes/users/[id]/route.py": "def GET(request, id):\n    return {}\n",
        "routes/users/[user_id]/posts/route.py": "def GET(request, user_id):\n    return {}\n",
    })
    with pytest.raises(FastAPIRouteBuildError) as info:
        build_wheel(root, tmp_path / "out")
    assert "DUPLICATE_METHOD" in str(info.value)
    assert "DYNAMIC_CONFLICT" in str(info.value)


def test_a_failure_in_the_middle_of_baking_removes_the_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hatch_fastapi_route.plugin as plugin

    def explode(*args: object, **kwargs: object) -> None:
        assert len(staging_dirs()) == 1
        raise OSError("disk full")

    monkeypatch.setattr(plugin, "bake", explode)
    root = make_app(tmp_path / "app")
    with pytest.raises(OSError, match="disk full"):
        build_wheel(root, tmp_path / "out")
    assert staging_dirs() == []


def test_the_same_tree_gives_a_byte_identical_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    root = make_app(tmp_path / "app")
    first = build_wheel(root, tmp_path / "out1").read_bytes()
    second = build_wheel(root, tmp_path / "out2").read_bytes()
    assert first == second
    moved = shutil.copytree(root, tmp_path / "elsewhere" / "moved-app")
    third = build_wheel(moved, tmp_path / "out3").read_bytes()
    assert third == first
    manifest = json.loads(read_wheel(tmp_path / "out1" / "myapp-0.1.0-py2.py3-none-any.whl")
                          ["myapp/.cache/manifest.json"])
    assert manifest["created_at"].startswith("2023-11-14T22:13:20")


def test_src_layout_puts_the_cache_beside_the_package_in_the_wheel(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", package="src/myapp")
    files = read_wheel(build_wheel(root, tmp_path / "out"))
    assert "myapp/.cache/routes.dat" in files
    assert "myapp/routes/items/[item_id]/route.py" in files
    assert not [n for n in files if n.startswith("src/")]
    marker = "myapp-0.1.0.dist-info/extra_metadata/fastapi_route_app.json"
    assert json.loads(files[marker]) == {"package": "myapp"}


def test_src_layout_is_detected_without_a_packages_setting(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", package="src/myapp")
    write_tree(root, {"pyproject.toml": pyproject(None)})
    files = read_wheel(build_wheel(root, tmp_path / "out"))
    assert "myapp/.cache/routes.dat" in files
