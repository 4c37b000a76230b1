"""`fastapi-route routes --json` and `routes --tree`: the records and the tree on a real tree,
through the CLI and through `fastapi_route.routeview` itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fastapi_route import routeview
from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.pipeline.build import compile_table
from fastapi_route.table import RouteEntry

GET = "def GET(request):\n    return {}\n"

# Written in no particular order: precedence, not the file system, orders both views.
TREE = {
    "routes/ws/route.py": "async def WEBSOCKET(websocket):\n    await websocket.accept()\n",
    "routes/users/[user_id]/posts/route.py": "def GET(request, user_id: str):\n    return []\n",
    "routes/users/[user_id]/route.py": (
        "def GET(request, user_id: str):\n    return {}\n\n\n"
        "def DELETE(request, user_id: str):\n    return None\n"
    ),
    "routes/users/me/route.py": GET,
    "routes/users/route.py": (
        "def POST(request):\n    return {}\n\n\ndef GET(request):\n    return []\n"
    ),
    "routes/users/_layout.py": 'tags = ["users"]\n',
    "routes/posts/[slug]/route.py": "def GET(request, slug: str):\n    return {}\n",
    "routes/posts/[post_id=int]/route.py": "def GET(request, post_id: int):\n    return {}\n",
    "routes/files/[...path]/route.py": "def GET(request, path: list[str]):\n    return {}\n",
    "routes/(auth)/login/route.py": "def POST(request):\n    return {}\n",
    "routes/(admin)/admin/stats/route.py": GET,
    "routes/(admin)/_layout.py": 'tags = ["admin"]\n',
    "routes/index.py": GET,
    "routes/_layout.py": 'tags = ["app"]\n',
}

APP = "routes/_layout.py"
USERS = ("routes/_layout.py", "routes/users/_layout.py")


def record(method: str, path: str, openapi_path: str, file: str, line: int,
           params: list[tuple[str, str]], catchall: str | None, layouts: tuple[str, ...],
           operation_id: str | None) -> dict[str, Any]:
    return {
        "method": method, "label": "WS" if method == "WEBSOCKET" else method, "path": path,
        "openapi_path": openapi_path, "file": file, "line": line,
        "params": [{"name": n, "type": t} for n, t in params], "catchall": catchall,
        "layouts": list(layouts), "operation_id": operation_id,
    }


EXPECTED_JSON = [
    record("GET", "/", "/", "routes/index.py", 1, [], None, (APP,), "get_root"),
    record("GET", "/admin/stats", "/admin/stats", "routes/(admin)/admin/stats/route.py", 1, [],
           None, (APP, "routes/(admin)/_layout.py"), "get_admin_stats"),
    record("GET", "/files/{path:path}", "/files/{path}", "routes/files/[...path]/route.py", 1,
           [("path", "path")], "path", (APP,), "get_files_path"),
    record("POST", "/login", "/login", "routes/(auth)/login/route.py", 1, [], None, (APP,),
           "post_login"),
    record("GET", "/posts/{post_id:int}", "/posts/{post_id}",
           "routes/posts/[post_id=int]/route.py", 1, [("post_id", "int")], None, (APP,),
           "get_posts_post_id"),
    record("GET", "/posts/{slug}", "/posts/{slug}", "routes/posts/[slug]/route.py", 1,
           [("slug", "str")], None, (APP,), "get_posts_slug"),
    record("GET", "/users", "/users", "routes/users/route.py", 5, [], None, USERS, "get_users"),
    record("POST", "/users", "/users", "routes/users/route.py", 1, [], None, USERS,
           "post_users"),
    record("GET", "/users/me", "/users/me", "routes/users/me/route.py", 1, [], None, USERS,
           "get_users_me"),
    record("GET", "/users/{user_id}", "/users/{user_id}", "routes/users/[user_id]/route.py", 1,
           [("user_id", "str")], None, USERS, "get_users_user_id"),
    record("DELETE", "/users/{user_id}", "/users/{user_id}", "routes/users/[user_id]/route.py",
           5, [("user_id", "str")], None, USERS, "delete_users_user_id"),
    record("GET", "/users/{user_id}/posts", "/users/{user_id}/posts",
           "routes/users/[user_id]/posts/route.py", 1, [("user_id", "str")], None, USERS,
           "get_users_user_id_posts"),
    record("WEBSOCKET", "/ws", "/ws", "routes/ws/route.py", 1, [], None, (APP,), None),
]

EXPECTED_TREE = """\
/ [layout] [layout (admin)]  GET         routes/index.py
├── admin
│   └── stats                GET         routes/(admin)/admin/stats/route.py  (admin)
├── files
│   └── {path:path}          GET         routes/files/[...path]/route.py
├── login                    POST        routes/(auth)/login/route.py  (auth)
├── posts
│   ├── {post_id:int}        GET         routes/posts/[post_id=int]/route.py
│   └── {slug}               GET         routes/posts/[slug]/route.py
├── users [layout]           GET POST    routes/users/route.py
│   ├── me                   GET         routes/users/me/route.py
│   └── {user_id}            GET DELETE  routes/users/[user_id]/route.py
│       └── posts            GET         routes/users/[user_id]/posts/route.py
└── ws                       WS          routes/ws/route.py
"""

ASCII_TREE = (EXPECTED_TREE.replace("├── ", "|-- ").replace("└── ", "`-- ")
              .replace("│   ", "|   "))


def invoke(root: Path, *args: str, charset: str = "utf-8") -> Any:
    return CliRunner(charset=charset).invoke(main, ["routes", *args, "--project", str(root)])


def table(root: Path) -> list[RouteEntry]:
    return compile_table(root, load_config(root)).routes


def test_json_is_the_table_for_tools(project):
    root = project(TREE)
    result = invoke(root, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == EXPECTED_JSON  # nothing but the JSON on stdout
    assert "routes" not in result.stdout.splitlines()[-1]  # no "N routes" line
    # Keys in one order for every record, the text as json.dumps(indent=2) writes it.
    assert result.stdout == json.dumps(EXPECTED_JSON, indent=2) + "\n"
    assert routeview.records(table(root)) == EXPECTED_JSON
    assert routeview.to_json(table(root)) + "\n" == result.stdout


def test_json_and_tree_follow_precedence_not_file_order(project):
    root = project(TREE)
    shuffled = list(reversed(table(root)))
    order = [(r["method"], r["path"]) for r in routeview.records(shuffled)]
    assert order.index(("GET", "/posts/{post_id:int}")) < order.index(("GET", "/posts/{slug}"))
    assert order.index(("GET", "/users/me")) < order.index(("GET", "/users/{user_id}"))
    assert order.index(("GET", "/files/{path:path}")) < order.index(("POST", "/login"))
    assert order == [(r["method"], r["path"]) for r in EXPECTED_JSON]
    # Children: static names, then typed parameters, then parameters, then catch-alls.
    tree = routeview.url_tree(shuffled, "routes")
    assert [n.piece for n in tree.ordered_children()] == [
        "admin", "files", "login", "posts", "users", "ws"]
    assert [n.piece for n in tree.children["posts"].ordered_children()] == [
        "{post_id:int}", "{slug}"]
    assert [n.piece for n in tree.children["users"].ordered_children()] == ["me", "{user_id}"]
    assert routeview.render_tree(shuffled, "routes") + "\n" == EXPECTED_TREE


def test_tree_shows_urls_methods_files_groups_and_layouts(project):
    root = project(TREE)
    result = invoke(root, "--tree")
    assert result.exit_code == 0, result.output
    assert result.stdout == EXPECTED_TREE
    assert routeview.render_tree(table(root), "routes") + "\n" == EXPECTED_TREE


def test_tree_falls_back_to_ascii(project):
    root = project({**TREE, "routes/café/route.py": GET})
    cafe = "|-- caf\\xe9".ljust(29) + "GET".ljust(12) + "routes/caf\\xe9/route.py\n"  # escaped
    ascii_tree = ASCII_TREE.replace("|-- files", cafe + "|-- files")
    result = invoke(root, "--tree", charset="ascii")
    assert result.exit_code == 0, result.output
    assert result.stdout == ascii_tree
    assert routeview.render_tree(table(root), "routes", encoding="ascii") + "\n" == ascii_tree
    assert "├── café" in routeview.render_tree(table(root), "routes", encoding="utf-8")


@pytest.mark.parametrize(("encoding", "boxes"), [
    ("utf-8", True), ("UTF8", True), ("cp437", True), ("ascii", False), ("latin-1", False),
    ("cp1252", False), (None, False), ("no-such-codec", False),
])
def test_box_drawing_only_where_the_encoding_has_it(encoding, boxes):
    assert routeview.can_draw_boxes(encoding) is boxes


def test_json_and_tree_are_exclusive(project):
    root = project(TREE)
    result = invoke(root, "--json", "--tree")
    assert result.exit_code == 1
    assert "--json and --tree" in result.output
    assert '"method"' not in result.output and "├" not in result.output  # neither view


def test_plain_table_unchanged(project):
    result = invoke(project(TREE))
    assert result.exit_code == 0
    assert result.output.splitlines()[0].split() == ["METHOD", "URL", "FILE", "LAYOUTS"]
    assert result.output.splitlines()[-1] == "13 routes"


def test_one_url_served_from_two_groups_and_a_group_layout_below_a_folder():
    """Methods of one URL may live in route files of different groups: one line per file.
    A layout in a group folder below `shop/` marks `shop` with the group's name."""
    routes = [
        RouteEntry("GET", "/shop", "app/routes/(public)/shop/route.py", 3),
        RouteEntry("POST", "/shop", "app/routes/(staff)/shop/route.py", 8,
                   layouts=("app/routes/(staff)/_layout.py",)),
        RouteEntry("GET", "/shop/{item}", "app/routes/shop/[item]/route.py", 1, ("item",),
                   layouts=("app/routes/shop/(beta)/_layout.py",)),
        RouteEntry("GET", "/shop/{item}/x", "app/routes/shop/(beta)/[item]/x/route.py", 1,
                   ("item",), layouts=("app/routes/shop/(beta)/_layout.py",)),
    ]
    assert routeview.render_tree(routes, "app/routes") == (
        "/ [layout (staff)]\n"
        "└── shop [layout (beta)]  GET   app/routes/(public)/shop/route.py  (public)\n"
        "    │                     POST  app/routes/(staff)/shop/route.py  (staff)\n"
        "    └── {item}            GET   app/routes/shop/[item]/route.py\n"
        "        └── x             GET   app/routes/shop/(beta)/[item]/x/route.py  (beta)"
    )
    assert routeview.groups_of("app/routes/shop/(beta)/[item]/x/route.py", "app/routes") == (
        "beta",)


def test_optional_catchall_serves_its_folder_and_below(project):
    root = project({"routes/docs/[[...slug]]/route.py":
                    "def GET(request, slug: list[str]):\n    return {}\n",
                    "config.py": "docs_enabled = False\n"})  # else Swagger UI takes /docs
    records = routeview.records(table(root))
    assert [(r["path"], r["params"], r["catchall"]) for r in records] == [
        ("/docs", [], "slug"),
        ("/docs/{slug:path}", [{"name": "slug", "type": "path"}], "slug"),
    ]
    assert routeview.render_tree(table(root), "routes") == (
        "/\n"
        "└── docs             GET  routes/docs/[[...slug]]/route.py\n"
        "    └── {slug:path}  GET  routes/docs/[[...slug]]/route.py"
    )


def test_empty_table():
    assert routeview.to_json([]) == "[]"
    assert routeview.render_tree([], "routes") == "/"
