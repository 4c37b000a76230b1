"""Scan + validate on real trees: the URL table, precedence, and every problem code."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from fastapi_route.config import Config, load_config
from fastapi_route.errors import BuildFailed, Problem
from fastapi_route.pipeline.build import CompiledTree, compile_table

GET_OK = """
    def GET(request):
        return {"ok": True}
"""


def table_of(root: Path, config: Config | None = None) -> CompiledTree:
    return compile_table(root, config if config is not None else load_config(root))


def problems_of(root: Path, config: Config | None = None) -> list[Problem]:
    with pytest.raises(BuildFailed) as info:
        table_of(root, config)
    return info.value.problems


def only(problems: list[Problem], code: str) -> Problem:
    """The single problem with this code (fails when there are none or several)."""
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, f"expected one {code}, got {[p.render() for p in problems]}"
    return found[0]


def where(problems: list[Problem]) -> set[tuple[str, str, int]]:
    return {(p.code, p.file, p.line) for p in problems}


def routes_of(table: CompiledTree) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in table.routes]


# --------------------------------------------------------------------------- URL mapping


def test_spec_url_mapping_table(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/index.py": GET_OK,
            "routes/about/route.py": GET_OK,
            "routes/api/index.py": GET_OK,
            "routes/users/[user_id]/route.py": """
                def GET(request, user_id: int):
                    return {"id": user_id}
            """,
            "routes/docs/[...slug]/route.py": """
                def GET(request, slug):
                    return {"slug": slug}
            """,
            "routes/(auth)/login/route.py": """
                # the login form
                def POST(request):
                    return {}
            """,
        },
    )
    table = table_of(root)
    got = {(r.method, r.path): (r.file, r.line, r.params, r.catchall) for r in table.routes}
    assert got == {
        ("GET", "/"): ("routes/index.py", 1, (), None),
        ("GET", "/about"): ("routes/about/route.py", 1, (), None),
        ("GET", "/api"): ("routes/api/index.py", 1, (), None),
        ("GET", "/users/{user_id}"): ("routes/users/[user_id]/route.py", 1, ("user_id",), None),
        ("GET", "/docs/{slug:path}"): ("routes/docs/[...slug]/route.py", 1, ("slug",), "slug"),
        ("POST", "/login"): ("routes/(auth)/login/route.py", 2, (), None),
    }
    assert table.route_files == sorted(
        [
            "routes/index.py",
            "routes/about/route.py",
            "routes/api/index.py",
            "routes/users/[user_id]/route.py",
            "routes/docs/[...slug]/route.py",
            "routes/(auth)/login/route.py",
        ]
    )
    # The catch-all serves every URL below /docs but FastAPI's /docs/oauth2-redirect, which
    # Swagger UI (on by default) takes first: worth a warning, not an error.
    assert [(w.code, w.file) for w in table.warnings] == [
        ("SHADOWED_ROUTE", "routes/docs/[...slug]/route.py")]
    by_path = {r.path: r for r in table.routes}
    assert by_path["/users/{user_id}"].is_dynamic
    assert by_path["/docs/{slug:path}"].is_dynamic
    assert not by_path["/login"].is_dynamic


def test_every_http_method_sync_and_async(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/items/route.py": """
                def GET(request): ...
                async def POST(request): ...
                def PUT(request): ...
                async def PATCH(request): ...
                def DELETE(request): ...
                def HEAD(request): ...
                def OPTIONS(request): ...
            """,
        },
    )
    table = table_of(root)
    # one route per method, in HTTP_METHODS order, each with its own line
    assert [(r.method, r.line) for r in table.routes] == [
        ("GET", 1), ("POST", 2), ("PUT", 3), ("PATCH", 4), ("DELETE", 5), ("HEAD", 6),
        ("OPTIONS", 7),
    ]
    assert {r.path for r in table.routes} == {"/items"}


def test_skipped_folders_and_helper_files_are_not_routes(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/index.py": GET_OK,
            "routes/_private/route.py": GET_OK,
            "routes/.hidden/route.py": GET_OK,
            "routes/__pycache__/route.py": GET_OK,
            "routes/users/_lib/index.py": GET_OK,
            "routes/users/.drafts/route.py": GET_OK,
            # helper modules, even ones that define GET, are not routes
            "routes/helpers.py": GET_OK,
            "routes/users/models.py": GET_OK,
            "routes/users/routes.py": GET_OK,
            "routes/users/route.py": GET_OK,
            # a broken file in a skipped folder is never read
            "routes/_broken/route.py": "def GET(request:\n",
        },
    )
    table = table_of(root)
    assert routes_of(table) == [("GET", "/"), ("GET", "/users")]
    assert table.route_files == ["routes/index.py", "routes/users/route.py"]


def test_lowercase_handler_names_are_ignored(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/items/route.py": """
                def GET(request):
                    return []

                def post(request):
                    return {}

                async def delete(request):
                    return None
            """,
        },
    )
    table = table_of(root)
    assert routes_of(table) == [("GET", "/items")]
    assert table.warnings == []  # a GET exists, so no NO_HANDLER warning


def test_nested_definitions_and_other_names_are_not_handlers(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/index.py": """
                def GET(request):
                    def POST(request):  # nested: not a handler
                        return 1
                    return POST(request)

                class Views:
                    def PUT(self, request):
                        return 2

                METHODS = ["GET"]
            """,
        },
    )
    assert routes_of(table_of(root)) == [("GET", "/")]


def test_custom_route_dir(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": 'route_dir = "endpoints"\n',
            "endpoints/ping/route.py": GET_OK,
            "routes/ignored/route.py": GET_OK,
        },
    )
    table = table_of(root)
    assert routes_of(table) == [("GET", "/ping")]
    assert table.routes[0].file == "endpoints/ping/route.py"


def test_missing_route_dir_is_an_error(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": 'app_name = "x"\n'})
    problem = only(problems_of(root), "NO_ROUTE_DIR")
    assert (problem.file, problem.line) == ("routes", 0)


def test_symlinked_folder_outside_routes_is_followed(tmp_path, make_tree):
    root = make_tree(tmp_path, {"routes/index.py": GET_OK, "shared/ping/route.py": GET_OK})
    try:
        os.symlink(root / "shared", root / "routes" / "shared", target_is_directory=True)
    except OSError:
        pytest.skip("symlinks are not available here")
    table = table_of(root)
    assert routes_of(table) == [("GET", "/"), ("GET", "/shared/ping")]
    assert table.routes[1].file == "routes/shared/ping/route.py"


# --------------------------------------------------------------------------- precedence


PRECEDENCE_FILES = {
    "routes/index.py": GET_OK,
    "routes/[...rest]/route.py": "def GET(request, rest): ...\n",
    "routes/users/[user_id]/route.py": "def GET(request, user_id): ...\n",
    "routes/users/[user_id]/posts/route.py": "def GET(request, user_id): ...\n",
    "routes/users/[...all]/route.py": "def GET(request, all): ...\n",
    "routes/users/me/route.py": GET_OK,
    "routes/users/route.py": GET_OK,
    "routes/docs/[...slug]/route.py": "def GET(request, slug): ...\n",
    "routes/docs/intro/route.py": GET_OK,
    "routes/about/route.py": GET_OK,
}
PRECEDENCE_ORDER = [
    "/",
    "/about",
    "/docs/intro",
    "/docs/{slug:path}",
    "/users",
    "/users/me",
    "/users/{user_id}",
    "/users/{user_id}/posts",
    "/users/{all:path}",
    "/{rest:path}",
]


def test_routes_come_in_precedence_order(tmp_path, make_tree):
    table = table_of(make_tree(tmp_path, PRECEDENCE_FILES))
    paths = [r.path for r in table.routes]
    assert paths == PRECEDENCE_ORDER
    # the points the spec names explicitly
    assert paths.index("/users/me") < paths.index("/users/{user_id}")
    assert paths.index("/users/{user_id}") < paths.index("/users/{all:path}")
    assert paths[-1] == "/{rest:path}"


def test_precedence_does_not_depend_on_creation_order(tmp_path, make_tree):
    forward = table_of(make_tree(tmp_path / "one", PRECEDENCE_FILES))
    backward = table_of(
        make_tree(tmp_path / "two", dict(reversed(list(PRECEDENCE_FILES.items()))))
    )
    assert [r.path for r in backward.routes] == PRECEDENCE_ORDER
    assert [(r.method, r.path, r.file, r.line) for r in forward.routes] == [
        (r.method, r.path, r.file, r.line) for r in backward.routes
    ]


# --------------------------------------------------------------------------- no user code runs


def test_route_modules_are_never_imported(tmp_path, make_tree):
    marker = tmp_path / "marker.txt"
    root = make_tree(
        tmp_path / "app",
        {
            "routes/exits/route.py": """
                import sys
                sys.exit(1)

                def GET(request):
                    return {}
            """,
            "routes/raises/route.py": """
                raise SystemExit("no")

                def GET(request):
                    return {}
            """,
            "routes/writes/route.py": f"""
                from pathlib import Path
                Path({str(marker)!r}).write_text("imported")

                def GET(request):
                    return {{}}
            """,
            "routes/needs_deps/route.py": """
                import a_dependency_that_is_not_installed_xyz

                def GET(request):
                    return {}
            """,
        },
    )
    table = table_of(root)
    assert routes_of(table) == [
        ("GET", "/exits"), ("GET", "/needs_deps"), ("GET", "/raises"), ("GET", "/writes"),
    ]
    assert {r.path: r.line for r in table.routes} == {
        "/exits": 4, "/needs_deps": 3, "/raises": 3, "/writes": 4,
    }
    assert not marker.exists()


# --------------------------------------------------------------------------- include / exclude


FILTER_FILES = {
    "routes/index.py": GET_OK,
    "routes/users/route.py": GET_OK,
    "routes/users/[user_id]/route.py": "def GET(request, user_id): ...\n",
    "routes/admin/route.py": GET_OK,
    "routes/admin/stats/route.py": GET_OK,
}


def test_exclude_patterns_from_config(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            **FILTER_FILES,
            "config.py": 'build = {"exclude_patterns": ["admin/*"]}\n',
            # an excluded file is not even parsed
            "routes/admin/broken/route.py": "def GET(request:\n",
        },
    )
    table = table_of(root)
    assert [r.path for r in table.routes] == ["/", "/users", "/users/{user_id}"]
    assert not any(f.startswith("routes/admin") for f in table.route_files)


def test_include_patterns_from_config(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {**FILTER_FILES, "config.py": 'build = {"include_patterns": ["users/*", "index.py"]}\n'},
    )
    table = table_of(root)
    assert [r.path for r in table.routes] == ["/", "/users", "/users/{user_id}"]
    assert table.route_files == [
        "routes/index.py", "routes/users/[user_id]/route.py", "routes/users/route.py",
    ]


def test_include_and_exclude_together(tmp_path, make_tree):
    root = make_tree(tmp_path, FILTER_FILES)
    config = Config().with_build(
        include_patterns=("users/*", "admin/*"), exclude_patterns=("*/stats/*",)
    )
    table = table_of(root, config)
    assert [r.path for r in table.routes] == ["/admin", "/users", "/users/{user_id}"]


# --------------------------------------------------------------------------- DUPLICATE_METHOD


def test_duplicate_method_two_defs(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/items/route.py": """
                def GET(request):
                    return []


                def GET(request):
                    return [1]
            """,
        },
    )
    problem = only(problems_of(root), "DUPLICATE_METHOD")
    assert (problem.file, problem.line) == ("routes/items/route.py", 5)
    assert "lines 1, 5" in problem.message
    assert not problem.warning


def test_duplicate_method_sync_and_async(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/items/route.py": """
                '''Items.'''
                def GET(request):
                    return []

                async def GET(request):
                    return [1]
            """,
        },
    )
    problems = problems_of(root)
    problem = only(problems, "DUPLICATE_METHOD")
    assert (problem.file, problem.line) == ("routes/items/route.py", 5)
    assert "2" in problem.message and "5" in problem.message
    assert "lines 2, 5" in problem.message
    assert [p.code for p in problems] == ["DUPLICATE_METHOD"]


# --------------------------------------------------------------------------- DUPLICATE_ROUTE


def test_duplicate_route_through_two_groups(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/(a)/x/route.py": GET_OK,
            "routes/(b)/x/route.py": """
                # same URL as (a)/x
                def POST(request): ...
                def GET(request): ...
            """,
        },
    )
    problems = problems_of(root)
    problem = only(problems, "DUPLICATE_ROUTE")
    assert (problem.file, problem.line) == ("routes/(b)/x/route.py", 3)
    assert "GET /x" in problem.message
    assert "routes/(a)/x/route.py" in problem.message
    rendered = problem.render()
    assert "routes/(a)/x/route.py" in rendered and "routes/(b)/x/route.py" in rendered
    assert [p.code for p in problems] == ["DUPLICATE_ROUTE"]  # POST /x alone is fine


def test_duplicate_root_route_via_group_index(tmp_path, make_tree):
    root = make_tree(tmp_path, {"routes/index.py": GET_OK, "routes/(site)/index.py": GET_OK})
    problem = only(problems_of(root), "DUPLICATE_ROUTE")
    assert (problem.file, problem.line) == ("routes/index.py", 1)
    assert "GET / " in problem.message and "routes/(site)/index.py" in problem.message


# --------------------------------------------------------------------------- INVALID_HANDLER


def test_invalid_handler_not_a_function(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/items/route.py": """
                '''A handler must be a function.'''
                GET = 1
            """,
        },
    )
    problem = only(problems_of(root), "INVALID_HANDLER")
    assert (problem.file, problem.line) == ("routes/items/route.py", 2)
    assert "GET" in problem.message and "not defined as a function" in problem.message


def test_invalid_handler_imported(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/items/route.py": """
                from x import GET
            """,
            "routes/other/route.py": """
                import os

                from .handlers import get as POST
            """,
        },
    )
    problems = problems_of(root)
    assert where(problems) == {
        ("INVALID_HANDLER", "routes/items/route.py", 1),
        ("INVALID_HANDLER", "routes/other/route.py", 3),
    }


def test_invalid_handler_class(tmp_path, make_tree):
    root = make_tree(tmp_path, {"routes/index.py": "class GET:\n    pass\n"})
    problem = only(problems_of(root), "INVALID_HANDLER")
    assert (problem.file, problem.line) == ("routes/index.py", 1)


def test_invalid_handler_missing_folder_param(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/users/[user_id]/posts/[post_id]/route.py": """
                def GET(request, user_id: int):
                    return {}

                def DELETE(request, user_id, *, post_id):  # keyword-only is fine
                    return None
            """,
        },
    )
    problem = only(problems_of(root), "INVALID_HANDLER")
    assert (problem.file, problem.line) == ("routes/users/[user_id]/posts/[post_id]/route.py", 1)
    assert "post_id" in problem.message and "user_id" not in problem.message


def test_invalid_handler_missing_catchall_param(tmp_path, make_tree):
    root = make_tree(tmp_path, {"routes/docs/[...slug]/route.py": GET_OK})
    problem = only(problems_of(root), "INVALID_HANDLER")
    assert (problem.file, problem.line) == ("routes/docs/[...slug]/route.py", 1)
    assert "slug" in problem.message


def test_invalid_handler_without_request(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/index.py": """
                def GET(req):
                    return {}
            """,
        },
    )
    problem = only(problems_of(root), "INVALID_HANDLER")
    assert (problem.file, problem.line) == ("routes/index.py", 1)
    assert "'request'" in problem.message
    assert "require_request" in problem.hint


def test_request_not_required_when_config_says_so(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": 'build = {"require_request": False}\n',
            "routes/index.py": """
                def GET():
                    return {}
            """,
            "routes/users/[user_id]/route.py": """
                async def GET(user_id: int):
                    return {}
            """,
        },
    )
    table = table_of(root)
    assert routes_of(table) == [("GET", "/"), ("GET", "/users/{user_id}")]


def test_folder_param_still_required_without_require_request(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": 'build = {"require_request": False}\n',
            "routes/users/[user_id]/route.py": "def GET():\n    return {}\n",
        },
    )
    problem = only(problems_of(root), "INVALID_HANDLER")
    assert (problem.file, problem.line) == ("routes/users/[user_id]/route.py", 1)
    assert "user_id" in problem.message and "'request'" not in problem.message


# --------------------------------------------------------------------------- CIRCULAR_GROUP


def _compile_with_timeout(root: Path, seconds: float = 20) -> BaseException | CompiledTree:
    result: list[BaseException | CompiledTree] = []

    def run() -> None:
        try:
            result.append(table_of(root))
        except BaseException as exc:  # handed back to the test
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the scan hangs on a symlink loop"
    return result[0]


@pytest.mark.parametrize(
    ("link", "target"),
    [("routes/a/loop", ".."), ("routes/a/self", "."), ("routes/a/b/up", "../..")],
)
def test_circular_group_symlink_loop(tmp_path, make_tree, link, target):
    root = make_tree(tmp_path, {"routes/index.py": GET_OK, "routes/a/b/route.py": GET_OK})
    try:
        os.symlink(target, root / link, target_is_directory=True)
    except OSError:
        pytest.skip("symlinks are not available here")
    outcome = _compile_with_timeout(root)
    assert isinstance(outcome, BuildFailed), outcome
    problem = only(outcome.problems, "CIRCULAR_GROUP")
    assert (problem.file, problem.line) == (link, 0)
    assert [p.code for p in outcome.problems] == ["CIRCULAR_GROUP"]


# --------------------------------------------------------------------------- DYNAMIC_CONFLICT


def test_dynamic_conflict_sibling_params(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/users/[id]/route.py": "def GET(request, id): ...\n",
            "routes/users/[user_id]/route.py": "def GET(request, user_id): ...\n",
        },
    )
    problems = problems_of(root)
    problem = only(problems, "DYNAMIC_CONFLICT")
    assert (problem.file, problem.line) == ("routes/users", 0)
    assert "[id]" in problem.message and "[user_id]" in problem.message
    # reported once, not again as an ambiguous route
    assert [p.code for p in problems] == ["DYNAMIC_CONFLICT"]


def test_dynamic_conflict_through_deeper_route_files(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/[org]/members/route.py": "def GET(request, org): ...\n",
            "routes/[team]/route.py": "def POST(request, team): ...\n",
        },
    )
    problem = only(problems_of(root), "DYNAMIC_CONFLICT")
    assert (problem.file, problem.line) == ("routes", 0)


def test_param_beside_catchall_is_not_a_conflict(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/docs/[page]/route.py": "def GET(request, page): ...\n",
            "routes/docs/[...slug]/route.py": "def GET(request, slug): ...\n",
        },
    )
    assert [r.path for r in table_of(root).routes] == ["/docs/{page}", "/docs/{slug:path}"]


# --------------------------------------------------------------------------- AMBIGUOUS_ROUTE


def test_ambiguous_route_across_groups(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/(a)/users/[id]/route.py": "def GET(request, id): ...\n",
            "routes/(b)/users/[uid]/route.py": """
                # another group, another name
                def GET(request, uid): ...
            """,
        },
    )
    problems = problems_of(root)
    problem = only(problems, "AMBIGUOUS_ROUTE")
    assert (problem.file, problem.line) == ("routes/(b)/users/[uid]/route.py", 2)
    assert "GET /users/1 " in problem.message
    assert "/users/{id}" in problem.message and "/users/{uid}" in problem.message
    assert "routes/(a)/users/[id]/route.py" in problem.message
    assert [p.code for p in problems] == ["AMBIGUOUS_ROUTE"]


def test_same_shape_different_methods_is_not_ambiguous(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/(a)/users/[id]/route.py": "def GET(request, id): ...\n",
            "routes/(b)/users/[uid]/route.py": "def DELETE(request, uid): ...\n",
        },
    )
    assert routes_of(table_of(root)) == [("GET", "/users/{id}"), ("DELETE", "/users/{uid}")]


# --------------------------------------------------------------------------- ROUTE_FILE_CONFLICT


def test_route_file_conflict(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/x/route.py": "def GET(request): ...\n",
            "routes/x/index.py": "def POST(request): ...\n",
        },
    )
    problems = problems_of(root)
    problem = only(problems, "ROUTE_FILE_CONFLICT")
    assert (problem.file, problem.line) == ("routes/x/route.py", 0)
    assert "index.py" in problem.message and "route.py" in problem.message
    assert [p.code for p in problems] == ["ROUTE_FILE_CONFLICT"]


def test_route_file_conflict_at_routes_root(tmp_path, make_tree):
    root = make_tree(tmp_path, {"routes/route.py": GET_OK, "routes/index.py": GET_OK})
    problems = problems_of(root)
    problem = only(problems, "ROUTE_FILE_CONFLICT")
    assert (problem.file, problem.line) == ("routes/route.py", 0)


# --------------------------------------------------------------------------- SYNTAX_ERROR


def test_syntax_error_line(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/broken/route.py": """
                def GET(request):
                    return {}

                def POST(request)
                    return {}
            """,
        },
    )
    problem = only(problems_of(root), "SYNTAX_ERROR")
    assert (problem.file, problem.line) == ("routes/broken/route.py", 4)
    assert problem.message.startswith("invalid Python")


def test_syntax_error_indentation(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {"routes/index.py": "def GET(request):\n    x = 1\n      return x\n"},
    )
    problem = only(problems_of(root), "SYNTAX_ERROR")
    assert (problem.file, problem.line) == ("routes/index.py", 3)


def test_undecodable_route_file(tmp_path, make_tree):
    root = make_tree(tmp_path, {"routes/index.py": GET_OK})
    (root / "routes" / "bin").mkdir()
    (root / "routes" / "bin" / "route.py").write_bytes(b"def GET(request):\n    return '\xff'\n")
    problem = only(problems_of(root), "SYNTAX_ERROR")
    assert problem.file == "routes/bin/route.py"
    assert problem.line >= 1


# --------------------------------------------------------------------------- INVALID_SEGMENT


@pytest.mark.parametrize(
    ("folder", "words"),
    [
        ("[]", "empty"),
        ("[a b]", "'a b'"),
        ("[1x]", "'1x'"),
        ("[class]", "'class'"),
        ("[request]", "'request'"),
        ("[...]", "catch-all"),
        ("[[slug]]", "optional"),
        ("{id}", "braces"),
        ("item[id]", "brackets"),
        ("()", "group"),
    ],
)
def test_invalid_segment(tmp_path, make_tree, folder, words):
    root = make_tree(tmp_path, {f"routes/{folder}/route.py": GET_OK, "routes/index.py": GET_OK})
    problems = problems_of(root)
    problem = only(problems, "INVALID_SEGMENT")
    assert (problem.file, problem.line) == (f"routes/{folder}", 0)
    assert words in problem.message
    assert problem.hint
    assert [p.code for p in problems] == ["INVALID_SEGMENT"]


def test_invalid_segment_catchall_not_last(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {"routes/docs/[...slug]/more/route.py": "def GET(request, slug): ...\n"},
    )
    problem = only(problems_of(root), "INVALID_SEGMENT")
    assert (problem.file, problem.line) == ("routes/docs/[...slug]/more", 0)
    assert "[...slug]" in problem.message


def test_invalid_segment_catchall_below_catchall(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {"routes/[...a]/(g)/[...b]/route.py": "def GET(request, a, b): ...\n"},
    )
    problem = only(problems_of(root), "INVALID_SEGMENT")
    assert (problem.file, problem.line) == ("routes/[...a]/(g)/[...b]", 0)


def test_invalid_segment_param_used_twice(tmp_path, make_tree):
    root = make_tree(tmp_path, {"routes/[id]/x/[id]/route.py": "def GET(request, id): ...\n"})
    problem = only(problems_of(root), "INVALID_SEGMENT")
    assert (problem.file, problem.line) == ("routes/[id]/x/[id]", 0)
    assert "'id'" in problem.message and "already used" in problem.message


def test_invalid_segment_reported_once_per_folder(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/[a b]/route.py": GET_OK,
            "routes/[a b]/c/route.py": GET_OK,
            "routes/[a b]/d/index.py": GET_OK,
        },
    )
    problems = problems_of(root)
    assert where(problems) == {("INVALID_SEGMENT", "routes/[a b]", 0)}
    assert len(problems) == 1


# --------------------------------------------------------------------------- NO_HANDLER


def test_no_handler_is_a_warning(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/index.py": GET_OK,
            "routes/lower/route.py": """
                def get(request):
                    return {}
            """,
        },
    )
    table = table_of(root)  # a warning does not fail the build
    assert routes_of(table) == [("GET", "/")]
    assert "routes/lower/route.py" in table.route_files
    [warning] = table.warnings
    assert (warning.code, warning.file, warning.line) == ("NO_HANDLER", "routes/lower/route.py", 0)
    assert warning.warning
    assert "GET" in warning.hint and "get" in warning.hint
    assert warning.render().startswith("NO_HANDLER (warning) routes/lower/route.py ")


def test_empty_route_file_warns(tmp_path, make_tree):
    root = make_tree(tmp_path, {"routes/index.py": GET_OK, "routes/empty/route.py": ""})
    [warning] = table_of(root).warnings
    assert (warning.code, warning.file) == ("NO_HANDLER", "routes/empty/route.py")


def test_warnings_do_not_count_as_errors_in_a_failed_build(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {"routes/lower/route.py": "def get(request): ...\n", "routes/index.py": "GET = 1\n"},
    )
    with pytest.raises(BuildFailed) as info:
        table_of(root)
    assert where(info.value.problems) == {
        ("NO_HANDLER", "routes/lower/route.py", 0),
        ("INVALID_HANDLER", "routes/index.py", 1),
    }
    assert str(info.value).startswith("Build failed: 1 problem in the route tree\n")


# --------------------------------------------------------------------------- all at once


def test_every_problem_is_collected_in_one_run(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "routes/index.py": GET_OK,
            "routes/a/route.py": "def GET(request):\n    return (\n",
            "routes/b/route.py": "def GET(request): ...\ndef GET(request): ...\n",
            "routes/[1x]/route.py": GET_OK,
            "routes/c/route.py": "# c\n\nGET = 1\n",
            "routes/d/route.py": "def POST():\n    return {}\n",
            "routes/e/route.py": GET_OK,
            "routes/e/index.py": "def PUT(request): ...\n",
            "routes/f/[id]/route.py": "def GET(request, id): ...\n",
            "routes/f/[fid]/route.py": "def GET(request, fid): ...\n",
        },
    )
    with pytest.raises(BuildFailed) as info:
        table_of(root)
    problems = info.value.problems
    assert where(problems) == {
        ("SYNTAX_ERROR", "routes/a/route.py", 2),
        ("DUPLICATE_METHOD", "routes/b/route.py", 2),
        ("INVALID_SEGMENT", "routes/[1x]", 0),
        ("INVALID_HANDLER", "routes/c/route.py", 3),
        ("INVALID_HANDLER", "routes/d/route.py", 1),
        ("ROUTE_FILE_CONFLICT", "routes/e/route.py", 0),
        ("DYNAMIC_CONFLICT", "routes/f", 0),
    }
    text = str(info.value)
    assert text.startswith("Build failed: 7 problems in the route tree\n")
    for p in problems:
        assert p.render() in text


# --------------------------------------------------------------------------- render format


RENDERED = re.compile(
    r"^(?P<code>[A-Z_]+) (?P<file>\S+?):(?P<line>\d+) (?P<message>.+)\n  hint: \S"
)


def test_render_format_from_a_real_tree(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {"routes/items/route.py": "def GET(request): ...\n\ndef GET(request): ...\n"},
    )
    problem = only(problems_of(root), "DUPLICATE_METHOD")
    text = problem.render()
    match = RENDERED.match(text)
    assert match, text
    assert match["code"] == "DUPLICATE_METHOD"
    assert match["file"] == "routes/items/route.py"
    assert match["line"] == "3"
    assert match["message"] == problem.message
    assert text.splitlines()[1] == f"  hint: {problem.hint}"
    assert len(text.splitlines()) == 2


def test_render_exact_text():
    problem = Problem("routes/a/route.py", 7, "DUPLICATE_METHOD", "GET twice", "keep one")
    assert problem.render() == "DUPLICATE_METHOD routes/a/route.py:7 GET twice\n  hint: keep one"
    folder = Problem("routes/[]", 0, "INVALID_SEGMENT", "empty", "name it")
    assert folder.render() == "INVALID_SEGMENT routes/[] empty\n  hint: name it"
    warning = Problem("routes/x/route.py", 0, "NO_HANDLER", "nothing", "add GET", warning=True)
    assert warning.render() == "NO_HANDLER (warning) routes/x/route.py nothing\n  hint: add GET"
