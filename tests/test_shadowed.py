"""Issue 17, part 7(b): a route file whose URL the app itself serves is never silently
shadowed.

FastAPI registers its documentation pages (Swagger UI at /docs and its OAuth2 redirect,
ReDoc at /redoc, the OpenAPI document at config.py's `openapi_url`), or docs.py's page at
/docs, before the route files, and each answers GET and HEAD. A route file whose template *is*
one of those URLs never gets a GET: `SHADOWED_ROUTE`, an error at the route file:line naming
what takes the URL. A dynamic template that merely also matches one of them (`routes/[page]`,
a root catch-all, SPEC 2's own `routes/docs/[...slug]`) still serves every other URL: a
warning naming the URLs it loses.

Routes win over `public/` files (SPEC 2): a file whose URL a route matches is never served
(a GET route answers it; a route of another method answers 405). `SHADOWED_FILE` is a warning,
one per route, counting the files it hides.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tree

from fastapi_route.cli import main
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app

INDEX = {"routes/index.py": "def GET(request):\n    return {}\n"}
PROBLEM = re.compile(r"^([A-Z_]+)( \(warning\))? (\S+?)(?::(\d+))? (.+)$")


def build(root: Path) -> tuple[int, str, list[tuple[str, bool, str, int, str, str]]]:
    """`fastapi-route build`: exit code, output, and each problem as (code, warning, file,
    line, message, hint)."""
    result = CliRunner().invoke(main, ["build", "--project", str(root)])
    lines = result.output.splitlines()
    found = []
    for number, line in enumerate(lines):
        match = PROBLEM.match(line)
        if match and match.group(1).startswith("SHADOWED"):
            hint = lines[number + 1]
            assert hint.startswith("  hint: "), result.output
            found.append((match.group(1), bool(match.group(2)), match.group(3),
                          int(match.group(4) or 0), match.group(5), hint[len("  hint: "):]))
    return result.exit_code, result.output, found


def handler(params: str = "", method: str = "GET") -> str:
    return f"import os\n\ndef {method}(request{params}):\n    return {{'route': True}}\n"


# --- the app's own pages take these URLs first ---------------------------------------------------

SHADOWED = {
    "an optional catch-all's own URL, by Swagger UI": (
        "routes/docs/[[...slug]]/route.py", handler(", slug: list[str]"), {},
        "FastAPI's Swagger UI (/docs)"),
    "a static route, by Swagger UI": ("routes/docs/route.py", handler(), {},
                                      "FastAPI's Swagger UI (/docs)"),
    "a route in a group": ("routes/(site)/docs/route.py", handler(), {},
                           "FastAPI's Swagger UI (/docs)"),
    "the OAuth2 redirect": ("routes/docs/oauth2-redirect/route.py", handler(), {},
                            "/docs/oauth2-redirect"),
    "ReDoc": ("routes/redoc/index.py", handler(), {}, "FastAPI's ReDoc (/redoc)"),
    "the OpenAPI document": ("routes/openapi.json/route.py", handler(), {},
                             "/openapi.json"),
    "a moved OpenAPI document": (
        "routes/api/schema.json/route.py", handler(),
        {"config.py": "openapi_url = '/api/schema.json'\n"}, "/api/schema.json"),
    "docs.py's page": ("routes/docs/route.py", handler(),
                       {"docs.py": "def handler(request, context):\n    return '<h1>d</h1>'\n"},
                       "docs.py (/docs)"),
    "a HEAD handler": ("routes/redoc/route.py", handler(method="HEAD"), {}, "/redoc"),
}


@pytest.mark.parametrize("case", SHADOWED)
def test_a_route_the_app_shadows_fails_the_build_naming_both(tmp_path, case):
    file, source, extra, taker = SHADOWED[case]
    root = write_tree(tmp_path / "app", {**INDEX, file: source, **extra})
    code, out, problems = build(root)
    assert code == 1, out
    assert "Traceback" not in out
    assert [p[:4] for p in problems] == [("SHADOWED_ROUTE", False, file, 3)], out
    message, hint = problems[0][4:]
    assert taker in message
    assert "move the route" in hint and "config.py" in hint
    assert not (root / ".cache").exists()


NOT_SHADOWED = {
    "a POST at /docs": ("routes/docs/route.py", handler(method="POST"), {}),
    "a websocket at /docs": (
        "routes/docs/route.py", "async def WEBSOCKET(websocket):\n    pass\n", {}),
    "docs turned off": ("routes/docs/route.py", handler(),
                        {"config.py": "docs_enabled = False\n"}),
    "openapi.json when the document moved": (
        "routes/openapi.json/route.py", handler(),
        {"config.py": "openapi_url = '/api/schema.json'\n"}),
    "the OAuth2 redirect when docs.py replaces Swagger UI": (
        "routes/docs/oauth2-redirect/route.py", handler(),
        {"docs.py": "def handler(request, context):\n    return 'd'\n"}),
    "a typed parameter no docs URL matches": ("routes/[page=int]/route.py",
                                              handler(", page"), {}),
    "below /docs": ("routes/docs/guide/route.py", handler(), {}),
}


@pytest.mark.parametrize("case", NOT_SHADOWED)
def test_what_the_app_does_not_take_builds(tmp_path, case):
    file, source, extra = NOT_SHADOWED[case]
    root = write_tree(tmp_path / "app", {**INDEX, file: source, **extra})
    code, out, problems = build(root)
    assert code == 0, out
    assert problems == [], out


def test_a_dynamic_route_that_also_matches_the_docs_urls_is_a_warning(tmp_path):
    """It serves every other URL; only the ones the app takes are lost, and named once."""
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/[page]/route.py": handler(", page"),
        "routes/docs/[...slug]/route.py": handler(", slug: list[str]"),  # SPEC 2's example
    })
    code, out, problems = build(root)
    assert code == 0, out
    assert sorted(p[:4] for p in problems) == [
        ("SHADOWED_ROUTE", True, "routes/[page]/route.py", 3),
        ("SHADOWED_ROUTE", True, "routes/docs/[...slug]/route.py", 3),
    ], out
    by_file = {p[2]: p[4] for p in problems}
    assert "/docs" in by_file["routes/[page]/route.py"]
    assert "/redoc" in by_file["routes/[page]/route.py"]
    assert "/openapi.json" in by_file["routes/[page]/route.py"]
    assert "/docs/oauth2-redirect" in by_file["routes/docs/[...slug]/route.py"]


# --- public/ files that a route hides ------------------------------------------------------------


def test_a_public_file_a_route_serves_is_a_warning_naming_both(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/robots.txt/route.py": handler(),
        "public/robots.txt": "User-agent: *\n",
        "public/css/app.css": "body {}\n",
    })
    code, out, problems = build(root)
    assert code == 0, out
    assert [p[:4] for p in problems] == [("SHADOWED_FILE", True, "routes/robots.txt/route.py",
                                          3)], out
    assert "public/robots.txt" in problems[0][4]
    assert "public/css/app.css" not in out


def test_a_route_of_another_method_hides_a_public_file_too(tmp_path):
    """No GET at the URL, but the route matches it: the router answers 405, never the file."""
    root = write_tree(tmp_path / "app", {
        **INDEX, "routes/robots.txt/route.py": handler(method="POST"),
        "public/robots.txt": "User-agent: *\n",
    })
    code, out, problems = build(root)
    assert code == 0, out
    assert [p[:3] for p in problems] == [("SHADOWED_FILE", True, "routes/robots.txt/route.py")]
    from fastapi.testclient import TestClient

    client = TestClient(create_app(Project(root), source="scan", schedule="eager"))
    assert client.get("/robots.txt").status_code == 405


def test_a_root_catch_all_reports_its_hidden_files_once_with_a_count(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/[...rest]/route.py": handler(", rest: list[str]"),
        "routes/[...rest]/_helpers/x.txt": "",
        "public/favicon.ico": "x",
        "public/robots.txt": "x",
        "public/css/app.css": "x",
        "public/.hidden": "never served anyway",
    })
    code, out, problems = build(root)
    assert code == 0, out
    shadowed_files = [p for p in problems if p[0] == "SHADOWED_FILE"]
    assert len(shadowed_files) == 1, out
    assert "3 files in public/" in shadowed_files[0][4]
    assert ".hidden" not in out


def test_a_parameter_hides_only_the_files_it_matches(tmp_path):
    root = write_tree(tmp_path / "app", {
        **INDEX,
        "routes/[page]/route.py": handler(", page"),
        "routes/[page]/[id=int]/route.py": handler(", page, id: int"),
        "public/favicon.ico": "x",
        "public/css/app.css": "x",
        "public/css/7": "x",
        "config.py": "docs_enabled = False\n",
    })
    code, out, problems = build(root)
    assert code == 0, out
    assert sorted((p[0], p[2], p[4].count("public/")) for p in problems) == [
        ("SHADOWED_FILE", "routes/[page]/[id=int]/route.py", 1),
        ("SHADOWED_FILE", "routes/[page]/route.py", 1),
    ], out
    assert "public/favicon.ico" in out and "public/css/7" in out
    assert "public/css/app.css" not in out


APPS = {
    "defaults": {},
    "docs.py": {"docs.py": "def handler(request, context):\n    return 'd'\n"},
    "docs off": {"config.py": "docs_enabled = False\n"},
    "the document moved": {"config.py": "openapi_url = '/api/schema.json'\n"},
    "health probes": {"config.py": "health = {'ready': '/-/ready', 'live': '/-/live'}\n"},
}


@pytest.mark.parametrize("case", APPS)
def test_the_build_knows_every_page_the_app_adds(tmp_path, case):
    """The build's list of the app's pages is the runtime's: the GET routes an app with one
    route file holds besides that file's."""
    from fastapi_route.config import load_config
    from fastapi_route.pipeline.shadowing import app_pages

    root = write_tree(tmp_path / "app", {**INDEX, **APPS[case]})
    app = create_app(Project(root), source="scan", schedule="eager")
    served = {r.path for r in app.routes if "GET" in (getattr(r, "methods", None) or ())}
    pages = app_pages(load_config(root), (root / "docs.py").is_file())
    assert served - {"/"} == {url for url, _ in pages}
