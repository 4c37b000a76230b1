"""PORTABILITY: names that Linux accepts but macOS or Windows refuse or merge, found by the
build on real trees (Linux creates all of them, so the tests can)."""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tree

from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.errors import BuildFailed, Problem
from fastapi_route.pipeline.build import compile_table
from fastapi_route.pipeline.portability import fold
from fastapi_route.pipeline.scan import scan
from fastapi_route.pipeline.validate import validate

pytestmark = pytest.mark.skipif(sys.platform != "linux",
                                reason="only Linux creates every one of these names")

GET = "def GET(request):\n    return {}\n"
NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")

# One of each problem, every file a good route or helper otherwise.
ONE_OF_EACH = {
    "routes/index.py": GET,
    "routes/Users/route.py": GET,  # case: two folders
    "routes/users/route.py": GET,
    "routes/about/route.py": GET,  # case: a route file and a helper
    "routes/about/Route.py": "HELPER = 1\n",
    f"routes/{NFC}/route.py": GET,  # Unicode normalisation
    f"routes/{NFD}/index.py": GET,
    "routes/con/route.py": GET,  # reserved, a folder
    "routes/aux.py": "HELPER = 1\n",  # reserved, a helper with an extension
    "routes/a./route.py": GET,  # trailing dot
    "routes/b /route.py": GET,  # trailing space
    "routes/what?/route.py": GET,  # forbidden characters
    "routes/12:30/route.py": GET,
}
# (file, message) of each problem, in the build's order.
EXPECTED = [
    ("routes/12:30", "'12:30' contains ':', which Windows forbids in a file or folder name"),
    ("routes/a.", "'a.' ends with a dot, which Windows strips from a name"),
    ("routes/about/route.py", "'Route.py' and 'route.py' in routes/about/ differ only by case: "
                              "macOS and Windows see one name, so once the app is installed "
                              "there one of them replaces the other"),
    ("routes/aux.py", "'aux.py' is the Windows device name AUX, which no file or folder there "
                      "can have, with or without an extension"),
    ("routes/b ", "'b ' ends with a space, which Windows strips from a name"),
    (f"routes/{NFC}", f"'{NFD}' and '{NFC}' in routes/ differ only by Unicode normalisation "
                      "('cafe\\u0301' and 'caf\\xe9'): macOS sees one name"),
    ("routes/con", "'con' is the Windows device name CON"),
    ("routes/users", "'Users' and 'users' in routes/ differ only by case: macOS and Windows see "
                     "one name"),
    ("routes/what?", "'what?' contains '?', which Windows forbids"),
]


def build_problems(root: Path) -> list[Problem]:
    with pytest.raises(BuildFailed) as info:
        compile_table(root, load_config(root))
    return info.value.problems


def portability(root: Path) -> list[Problem]:
    """The PORTABILITY problems of a tree, whatever else is wrong with it."""
    _, problems = validate(scan(root, load_config(root)), load_config(root))
    return [p for p in problems if p.code == "PORTABILITY"]


def files_of(problems: list[Problem]) -> list[str]:
    return [p.file for p in problems]


def tree(tmp_path: Path, files: Mapping[str, str]) -> Path:
    root = write_tree(tmp_path / "app", files)
    if not (root / "routes").is_dir():
        (root / "routes").mkdir()
    return root


def test_one_of_each_is_reported_in_one_build(tmp_path: Path) -> None:
    problems = build_problems(tree(tmp_path, ONE_OF_EACH))
    assert all(p.code == "PORTABILITY" and p.line == 0 and not p.warning for p in problems)
    assert len(problems) == len(EXPECTED), [p.render() for p in problems]
    found = [(p.file, p.message[: len(m)]) for p, (_, m) in zip(problems, EXPECTED, strict=True)]
    assert found == EXPECTED
    assert all(p.hint for p in problems)
    hints = {p.file: p.hint for p in problems}
    assert hints["routes/con"] == "rename it, e.g. 'con_'"
    assert hints["routes/aux.py"] == "rename it, e.g. 'aux_.py'"
    assert hints["routes/a."] == "remove the trailing dots and spaces from the name"
    assert "[id=int], not [id:int]" in hints["routes/12:30"]
    assert hints["routes/users"].startswith("rename one of them or merge the two")


def test_the_cli_build_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    root = tree(tmp_path, ONE_OF_EACH)
    result = CliRunner().invoke(main, ["build", "--project", str(root)])
    assert result.exit_code == 1, result.output
    assert f"Build failed: {len(EXPECTED)} problems in the route tree" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("PORTABILITY ")]
    expected = [f"PORTABILITY {file} {message}" for file, message in EXPECTED]
    assert len(lines) == len(expected), result.output
    assert [line[: len(e)] for line, e in zip(lines, expected, strict=True)] == expected
    assert not (root / ".cache").exists()


def test_a_clean_tree_has_no_portability_problem(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        "routes/index.py": GET,
        "routes/(auth)/login/route.py": GET,
        "routes/(auth)/_layout.py": "tags = ['auth']\n",
        "routes/users/[user_id]/route.py": GET,
        "routes/users/[user_id]/posts/[post_id=int]/route.py": GET,
        "routes/docs/[...slug]/route.py": GET,
        "routes/files/[[...path]]/route.py": GET,
        "routes/v1.2/my-page_x~/route.py": GET,
        "routes/api.v2/index.py": GET,
        f"routes/{NFC}/route.py": GET,  # accented, once
        "routes/日本語/route.py": GET,
        "routes/straße/route.py": GET,  # apart from 'strasse' on every system
        "routes/strasse/route.py": GET,
        "routes/console/route.py": GET,  # not devices: longer, or a dot before the name
        "routes/com10/route.py": GET,
        "routes/icon.py": "X = 1\n",
        "routes/my.con.py": "X = 1\n",
        "routes/lpt/route.py": GET,
        "routes/auxiliary.py": "X = 1\n",
        "routes/_lib/helpers.py": "X = 1\n",
        "routes/users/[user_id]/schema.json": "{}",
        "public/css/app.css": "",
        "public/img/logo.min.svg": "",
    })
    assert portability(root) == []


@pytest.mark.parametrize("name", [
    "con", "CON", "Con.py", "nul.txt", "NUL.tar.gz", "prn", "aux.json", "com1", "Com1.tar.gz",
    "COM0", "com9.py", "lpt1", "LPT9", "lpt0.txt", "com\u00b9", "LPT\u00b2.py", "com\u00b3",
    "nul .txt", "CONIN$", "conout$.log",
])
def test_windows_device_names_are_reserved_with_any_extension(tmp_path: Path, name: str) -> None:
    root = tree(tmp_path, {f"routes/{name}": "X = 1\n", "routes/index.py": GET})
    [problem] = build_problems(root)
    assert problem.file == f"routes/{name}"
    device = name.partition(".")[0].rstrip(" ").upper()
    assert problem.message.startswith(f"'{name}' is the Windows device name {device}")


@pytest.mark.parametrize("name", ["a<b", "a>b", 'a"b', "a|b", "a*b", "a\\b", "a:b", "a?b",
                                  "a\x01b", "tab\there"])
def test_characters_windows_forbids(tmp_path: Path, name: str) -> None:
    root = tree(tmp_path, {f"routes/{name}.py": "X = 1\n", "routes/index.py": GET})
    [problem] = build_problems(root)
    assert "which Windows forbids in a file or folder name" in problem.message
    assert all(line.isprintable() for line in problem.render().splitlines())


def test_a_control_character_in_a_route_folder_is_one_problem(tmp_path: Path) -> None:
    """INVALID_SEGMENT says it already; a `?` beside it is still Windows' problem."""
    root = tree(tmp_path, {"routes/a\nb/route.py": GET, "routes/c\n?/route.py": GET})
    problems = build_problems(root)
    assert [(p.code, p.file) for p in problems] == [
        ("INVALID_SEGMENT", "routes/a\\nb"),
        ("INVALID_SEGMENT", "routes/c\\n?"),
        ("PORTABILITY", "routes/c\\n?"),
    ]
    assert "contains '?'," in problems[2].message


def test_a_name_that_is_not_utf8_outside_a_route_path(tmp_path: Path) -> None:
    root = tree(tmp_path, {"routes/index.py": GET})
    (root / "routes" / os.fsdecode(b"caf\xe9.txt")).write_text("")
    [problem] = build_problems(root)
    assert problem.file == "routes/caf\\xe9.txt"
    assert "is not valid UTF-8" in problem.message


@pytest.mark.parametrize(("a", "b", "how"), [
    ("Users", "users", "case: macOS and Windows"),
    ("README.md", "readme.MD", "case: macOS and Windows"),
    (NFC, NFD, "Unicode normalisation ("),
    ("Caf\u00e9", "cafe\u0301", "case and Unicode normalisation ('Caf\\xe9' and 'cafe\\u0301')"),
    ("\u0131", "I", "case: macOS and Windows"),  # dotless i: Windows upper-cases it to I
    ("\u212a", "k", "case: macOS and Windows"),  # Kelvin sign
    ("\u2126", "\u03a9", "Unicode normalisation"),  # Ohm sign, Omega
])
def test_names_one_system_sees_as_one(tmp_path: Path, a: str, b: str, how: str) -> None:
    root = tree(tmp_path, {f"routes/x/{a}": "", f"routes/x/{b}": "", "routes/index.py": GET})
    [problem] = build_problems(root)
    first, second = sorted((a, b))
    assert problem.file == f"routes/x/{second}"
    assert problem.message.startswith(
        f"'{first}' and '{second}' in routes/x/ differ only by {how}"
    )


def test_fold_keeps_apart_what_file_systems_keep_apart() -> None:
    assert fold("straße") != fold("strasse")  # full case folding would merge them
    assert fold("\u0130") != fold("i")  # dotted capital I: Turkish, not folded by NTFS
    assert fold("\ufb01") != fold("fi")  # a ligature: compatibility, not canonical
    assert fold("Users") == fold("USERS") == fold("users")


def test_three_names_of_one_fold_name_the_first_twice(tmp_path: Path) -> None:
    root = tree(tmp_path, {"routes/API/route.py": GET, "routes/Api/route.py": GET,
                           "routes/api/route.py": GET})
    problems = build_problems(root)
    assert [(p.file, p.message.split(" differ")[0]) for p in problems] == [
        ("routes/Api", "'API' and 'Api' in routes/"),
        ("routes/api", "'API' and 'api' in routes/"),
    ]


def test_every_name_shipped_from_routes_and_public_is_checked(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        "config.py": 'build = {"exclude_patterns": ["legacy/*"]}\n',
        "routes/index.py": GET,
        "routes/_lib/aux.py": "X = 1\n",  # a helper in a skipped folder
        "routes/empty/nul/notes.txt": "",  # folders without any route
        "routes/legacy/prn/route.py": GET,  # left out of the table, not out of the wheel
        "routes/docs/Guide.md": "",  # data files
        "routes/docs/guide.md": "",
        "public/Logo.png": "",  # static files
        "public/logo.png": "",
        "public/css/con.css": "",
    })
    assert files_of(build_problems(root)) == [
        "public/css/con.css", "public/logo.png", "routes/_lib/aux.py",
        "routes/docs/guide.md", "routes/empty/nul", "routes/legacy/prn",
    ]


# Names left unchecked, each with the same name where it is checked and the problem that
# one gives there (None: the other name of the pair reports it).
UNCHECKED = {
    "routes/.git/con": ("routes/git/con", "routes/git/con"),  # hidden: tool state
    "routes/.Hidden": ("routes/Hidden", None),
    "routes/.hidden": ("routes/hidden", "routes/hidden"),
    "routes/__pycache__/index.cpython-311.pyc":  # rebuilt by every interpreter
        ("routes/pycache/index.cpython-311.pyc", "routes/pycache/index.cpython-311.pyc"),
    "routes/__pycache__/Index.cpython-311.pyc": ("routes/pycache/Index.cpython-311.pyc", None),
    "public/.well-known/aux.txt": ("public/well-known/aux.txt", "public/well-known/aux.txt"),
    "models/aux.py": ("routes/models/aux.py", "routes/models/aux.py"),  # the user's package
    "Con.md": ("public/Con.md", "public/Con.md"),  # the rest of the project
}


def test_hidden_names_caches_and_the_rest_of_the_project_are_not_checked(
    tmp_path: Path,
) -> None:
    files = {"routes/index.py": GET}
    root = tree(tmp_path / "unchecked", {**files, **{
        name: "X = 1\n" if name.endswith(".py") else "" for name in UNCHECKED}})
    assert portability(root) == []
    assert [r.path for r in compile_table(root, load_config(root)).routes] == ["/"]
    # Not vacuous: each name, moved to where names are checked, is a problem there.
    moved = tree(tmp_path / "checked", {**files, **{
        there: "X = 1\n" if there.endswith(".py") else "" for there, _ in UNCHECKED.values()}})
    assert sorted(files_of(portability(moved))) == sorted(
        problem for _, problem in UNCHECKED.values() if problem is not None)


def test_the_folders_config_names_are_walked(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        "config.py": 'route_dir = "src/api"\nstatic_dir = "assets"\n',
        "src/api/index.py": GET,
        "src/api/Com1/route.py": GET,
        "assets/a?.css": "",
        "routes/con.py": "",  # not the route folder here
        "public/con.css": "",
    })
    assert files_of(build_problems(root)) == ["assets/a?.css", "src/api/Com1"]


def test_symlinked_folders_are_followed_once(tmp_path: Path) -> None:
    root = tree(tmp_path, {"routes/index.py": GET, "outside/con/route.py": GET})
    os.symlink(root / "outside", root / "routes" / "ext")
    os.symlink(root / "routes", root / "routes" / "up")  # a loop: CIRCULAR_GROUP
    problems = build_problems(root)
    assert [(p.code, p.file) for p in problems] == [
        ("PORTABILITY", "routes/ext/con"), ("CIRCULAR_GROUP", "routes/up"),
    ]


def test_the_build_hook_refuses_the_wheel(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder

    from hatch_fastapi_route.plugin import FastAPIRouteBuildError

    root = write_tree(tmp_path / "dist-src", {
        "pyproject.toml": "\n".join([
            "[project]", 'name = "myapp"', 'version = "0.1.0"', "",
            "[tool.hatch.build.targets.wheel]", 'packages = ["myapp"]', "",
            "[tool.hatch.build.targets.wheel.hooks.fastapi-route]", "",
        ]),
        "myapp/__init__.py": "",
        "myapp/routes/index.py": GET,
        "myapp/routes/Index.py": "X = 1\n",
    })
    with pytest.raises(FastAPIRouteBuildError) as info:
        list(WheelBuilder(str(root)).build(directory=str(tmp_path / "out"),
                                           versions=["standard"]))  # a generator
    assert "PORTABILITY routes/index.py 'Index.py' and 'index.py' in routes/" in str(info.value)
    assert not list((tmp_path / "out").glob("*.whl"))


def test_dev_shows_the_problem_at_the_next_save(tmp_path: Path) -> None:
    from fastapi_route.project import Project
    from fastapi_route.runtime.devserver import DevApp

    root = tree(tmp_path, {"routes/index.py": GET, "routes/users/route.py": GET})
    dev = DevApp(Project(root), load_config(root))
    dev.build()
    assert dev.error is None and dev.app is not None
    write_tree(root, {"routes/Users/route.py": GET})
    dev.reload_routes()
    assert isinstance(dev.error, BuildFailed)
    assert files_of(dev.error.problems) == ["routes/users"]
    (root / "routes" / "Users" / "route.py").unlink()
    (root / "routes" / "Users").rmdir()
    dev.reload_routes()
    assert dev.error is None
