"""Issue 17, part 3: a wrong *value* in `_layout.py` or `app.py` is found at build, not after
`run` bound its port.

`build` reads both files with `ast` and runs nothing, so it judges what the source shows: a
setting written as a literal (`tags = "api"`, `dependencies = [1, 2]`, `lifespan = 5`) of the
wrong shape is INVALID_LAYOUT / INVALID_APP at its file:line, with a hint. A value it cannot
see (a name bound elsewhere, a call: `dependencies = _make_deps()`) is checked when the file
is imported, which `run` does for every layout and app.py before it binds its port (the warm
and eager schedules): exit 1 with the file, the message and the hint, never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tree
from fastapi.testclient import TestClient

from fastapi_route.cli import main
from fastapi_route.errors import FastAPIRouteError
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app

INDEX = {"routes/index.py": "def GET(request):\n    return {}\n"}
ROUTE = "def GET(request):\n    return {}\n"
PROBLEM = re.compile(r"^([A-Z_]+) (\S+):(\d+) (.+)$")


def build(root: Path) -> tuple[int, str, list[tuple[str, str, int, str, str]]]:
    """`fastapi-route build` through the CLI: exit code, output, and each problem as
    (code, file, line, message, hint)."""
    result = CliRunner().invoke(main, ["build", "--project", str(root)])
    lines = result.output.splitlines()
    problems = []
    for number, line in enumerate(lines):
        match = PROBLEM.match(line)
        if match:
            hint = lines[number + 1] if number + 1 < len(lines) else ""
            assert hint.startswith("  hint: "), result.output
            problems.append((match.group(1), match.group(2), int(match.group(3)),
                             match.group(4), hint[len("  hint: "):]))
    return result.exit_code, result.output, problems


# --- literals the build can judge ----------------------------------------------------------------

LAYOUT_LITERALS = {
    "dependencies as a string": ('dependencies = "not a list"\n', 1, "dependencies"),
    "dependencies of numbers": ("dependencies = [1, 2]\n", 1, "dependencies"),
    "dependencies as None": ("dependencies = None\n", 1, "dependencies"),
    "dependencies as a dict": ("dependencies = {'a': 1}\n", 1, "dependencies"),
    "a string among Depends": (
        "from fastapi import Depends\n\n\ndef _check():\n    pass\n\n\n"
        "dependencies = [Depends(_check), 'admin']\n", 8, "dependencies"),
    "tags as a string": ('tags = "api"\n', 1, "tags"),
    "tags of numbers": ("tags = ['users', 2]\n", 1, "tags"),
    "tags as a set": ("tags = {'users'}\n", 1, "tags"),
    "responses as a list": ("responses = [404]\n", 1, "responses"),
    "a response that is a string": ("responses = {404: 'missing'}\n", 1, "responses"),
    "a response code that is a float": ("responses = {4.04: {}}\n", 1, "responses"),
    "deprecated as a string": ("deprecated = 'yes'\n", 1, "deprecated"),
    "include_in_schema as a number": ("include_in_schema = 0\n", 1, "include_in_schema"),
    "include_in_schema as None": ("include_in_schema = None\n", 1, "include_in_schema"),
    "exception_handlers as a list": (
        "def _h(request, exc):\n    pass\n\n\nexception_handlers = [_h]\n", 5,
        "exception_handlers"),
    "a layout's handler that is a string": ("exception_handlers = {404: 'not_found'}\n", 1,
                                            "exception_handlers"),
    "a layout's status code written as a string": (
        "def _h(request, exc):\n    pass\n\n\nexception_handlers = {'404': _h}\n", 5,
        "exception_handlers"),
    "a wrong value in an if block": (
        "import os\n\nif os.environ.get('X'):\n    tags = 'x'\nelse:\n    tags = ['y']\n",
        4, "tags"),
}


@pytest.mark.parametrize("case", LAYOUT_LITERALS)
def test_a_wrong_literal_in_a_layout_fails_the_build_at_its_line(tmp_path, case):
    source, line, name = LAYOUT_LITERALS[case]
    root = write_tree(tmp_path / "app", {
        **INDEX, "routes/api/route.py": ROUTE, "routes/api/_layout.py": source,
    })
    code, out, problems = build(root)
    assert code == 1, out
    assert "Traceback" not in out
    assert [p[:3] for p in problems] == [("INVALID_LAYOUT", "routes/api/_layout.py", line)], out
    message, hint = problems[0][3:]
    assert message.startswith(f"{name} must be "), message
    assert ", got " in message  # what was written, as the runtime says it
    assert f"{name} = " in hint
    assert not (root / ".cache").exists()


APP_LITERALS = {
    "lifespan as a number": ("lifespan = 5\n", 1, "lifespan"),
    "lifespan as a string": ("lifespan = 'main:lifespan'\n", 1, "lifespan"),
    "middleware as a string": ('middleware = "x"\n', 1, "middleware"),
    "middleware of strings": ("middleware = ['gzip']\n", 1, "middleware"),
    "middleware as a dict": ("middleware = {}\n", 1, "middleware"),
    "exception_handlers as a list": (
        "def _h(request, exc):\n    pass\n\n\nexception_handlers = [_h]\n", 5,
        "exception_handlers"),
    "a handler that is a string": ("exception_handlers = {404: 'not_found'}\n", 1,
                                   "exception_handlers"),
    "a status code written as a string": (
        "def _h(request, exc):\n    pass\n\n\nexception_handlers = {'404': _h}\n", 5,
        "exception_handlers"),
    "configure as a number": ("configure = 1\n", 1, "configure"),
}


@pytest.mark.parametrize("case", APP_LITERALS)
def test_a_wrong_literal_in_app_py_fails_the_build_at_its_line(tmp_path, case):
    source, line, name = APP_LITERALS[case]
    root = write_tree(tmp_path / "app", {**INDEX, "app.py": source})
    code, out, problems = build(root)
    assert code == 1, out
    assert "Traceback" not in out
    assert [p[:3] for p in problems] == [("INVALID_APP", "app.py", line)], out
    message, hint = problems[0][3:]
    assert message.startswith(f"{name} must be "), message
    assert ", got " in message
    assert name in hint


def test_every_wrong_literal_is_reported_in_one_build(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/api/route.py": ROUTE,
        "routes/api/_layout.py": 'dependencies = "not a list"\ntags = "api"\n',
        "routes/v2/route.py": ROUTE,
        "routes/v2/_layout.py": "dependencies = [1, 2]\n",
        "app.py": 'lifespan = 5\nmiddleware = "x"\n',
    })
    code, out, problems = build(root)
    assert code == 1
    assert {p[:3] for p in problems} == {
        ("INVALID_LAYOUT", "routes/api/_layout.py", 1),
        ("INVALID_LAYOUT", "routes/api/_layout.py", 2),
        ("INVALID_LAYOUT", "routes/v2/_layout.py", 1),
        ("INVALID_APP", "app.py", 1),
        ("INVALID_APP", "app.py", 2),
    }, out
    assert "got [1, 2]" in out
    assert "got 'not a list'" in out  # the runtime's words: the value's repr


# --- what the build cannot judge is left to the import -------------------------------------------


def test_values_the_build_cannot_judge_pass_it(tmp_path):
    """Names, calls, spreads and comprehensions may be right: only the import can tell."""
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/api/route.py": ROUTE,
        "routes/api/_layout.py": """
            import enum
            import os

            from fastapi import Depends, Security, status


            class _Tags(enum.Enum):
                users = "users"


            def _check():
                pass


            def _make():
                return Depends(_check)


            _more = [Depends(_check)]
            _common = {500: {"description": "broken"}}
            dependencies = [Depends(_check), Security(_check), _make(), _more[0], *_more]
            dependencies = (Depends(_check),)
            dependencies = _more
            dependencies = [d for d in _more]
            dependencies = []
            tags = [_Tags.users, "users", os.environ.get("TAG", "x")]
            tags = ("a", "b")
            tags += ["c"]
            tags = []
            responses = {404: {"description": "missing"}, "default": {},
                         status.HTTP_403_FORBIDDEN: _common[500], **_common}
            responses = None
            deprecated = None
            deprecated = os.environ.get("OLD") == "1"
            include_in_schema = not os.environ.get("HIDE")
        """,
        "app.py": """
            from contextlib import asynccontextmanager

            from starlette.middleware import Middleware
            from starlette.middleware.gzip import GZipMiddleware


            async def _life(app):
                yield


            def _h(request, exc):
                pass


            def _set_up(app):
                pass


            _more = [Middleware(GZipMiddleware)]
            lifespan = None
            lifespan = asynccontextmanager(_life)
            lifespan = _life
            exception_handlers = {404: _h, ValueError: _h, **{}}
            exception_handlers = {}
            middleware = [Middleware(GZipMiddleware), *_more]
            middleware = ()
            configure = _set_up
            configure = None
        """,
    })
    code, out, problems = build(root)
    assert code == 0, out
    assert problems == []


# --- ... and checked when `run` imports it, before it binds --------------------------------------

MADE_WRONG = {
    **INDEX,
    "routes/api/route.py": ROUTE,
    "routes/api/_layout.py": """
        def _make_deps():
            return [1, 2]


        dependencies = _make_deps()
    """,
}


@pytest.mark.parametrize("schedule", ["warm", "eager"])
def test_a_wrong_value_the_build_cannot_see_stops_create_app(tmp_path, schedule):
    """The warm schedule imports every layout before `run` binds: their values are checked
    there, not when the route is first registered (after binding)."""
    root = write_tree(tmp_path / "app", MADE_WRONG)
    code, out, _ = build(root)
    assert code == 0, out  # the build cannot see it
    with pytest.raises(FastAPIRouteError) as caught:
        create_app(Project(root), source="cache", schedule=schedule)
    assert str(caught.value).startswith("routes/api/_layout.py: dependencies must be ")
    assert "got [1, 2]" in str(caught.value)
    assert caught.value.hint and "dependencies = [Depends(" in caught.value.hint


IMPORTED_WRONG = {
    "tags of numbers": ("def _t():\n    return [1]\n\n\ntags = _t()\n", "tags"),
    "responses of strings": (
        "def _r():\n    return {404: 'missing'}\n\n\nresponses = _r()\n", "responses"),
}


@pytest.mark.parametrize("case", IMPORTED_WRONG)
def test_the_import_checks_what_the_build_checks(tmp_path, case):
    """The same rule at both ends: what `build` refuses as a literal, the runtime refuses
    as an imported value."""
    source, name = IMPORTED_WRONG[case]
    root = write_tree(tmp_path / "app", {
        **INDEX, "routes/api/route.py": ROUTE, "routes/api/_layout.py": source,
    })
    with pytest.raises(FastAPIRouteError, match=f"^routes/api/_layout.py: {name} must be "):
        create_app(Project(root), source="scan", schedule="warm")


def test_an_app_py_status_code_written_as_a_string_is_refused_at_import(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "app.py": """
            def _h(request, exc):
                pass


            def _handlers():
                return {"404": _h}


            exception_handlers = _handlers()
        """,
    })
    with pytest.raises(FastAPIRouteError, match="^app.py: exception_handlers must be "):
        create_app(Project(root), source="scan", schedule="lazy")


def test_under_lazy_a_wrong_layout_value_fails_only_its_routes(tmp_path, caplog):
    """`run --lazy` imports nothing until used (SPEC 10), so a layout's value is only checked
    on the first request below it: that request answers 500, logged with the file, message
    and hint but no traceback of ours; the others work."""
    root = write_tree(tmp_path / "app", MADE_WRONG)
    app = create_app(Project(root), source="scan", schedule="lazy")
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/").status_code == 200
    with caplog.at_level("ERROR", logger="fastapi_route"):
        assert client.get("/api").status_code == 500
    [record] = [r for r in caplog.records if "cannot be served" in r.getMessage()]
    assert "routes/api/_layout.py: dependencies must be " in record.getMessage()
    assert "hint: write dependencies" in record.getMessage()
    assert record.exc_info is None


@pytest.mark.slow
def test_run_refuses_a_wrong_value_the_build_cannot_see_before_it_binds(tmp_path):
    from servers import run_cli, run_refused_before_binding

    root = write_tree(tmp_path / "app", MADE_WRONG)
    result = run_cli(["build", "--project", str(root)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    out = run_refused_before_binding(root, tmp_path)
    assert "routes/api/_layout.py: dependencies must be " in out
    assert "hint: write dependencies = [Depends(" in out


def test_the_shape_of_a_value_as_the_ast_shows_it():
    import ast

    from fastapi_route.bindings import top_level_bindings

    def shape(source: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        [binding] = top_level_bindings(ast.parse(source).body)
        assert binding.value is not None
        v = binding.value
        return v.kind, tuple(i.kind for i in v.items), tuple(k.kind for k in v.keys)

    assert shape("x = [1, 'a', None, True, -2.5, f'{y}', Depends(f), y, *z]") == (
        "list", ("int", "str", "none", "bool", "float", "str", "other", "other", "other"), ())
    assert shape("x: dict = {404: {}, 'default': y, **z}") == (
        "dict", ("dict", "other", "other"), ("int", "str", "other"))
    assert shape("x = lambda app: None") == ("lambda", (), ())
    assert shape("x = make()") == ("other", (), ())
    # Bindings whose value the build cannot pin on one name carry none.
    for source in ("a, b = 1, 2", "x += [1]", "for x in []: pass"):
        assert all(b.value is None for b in top_level_bindings(ast.parse(source).body))
