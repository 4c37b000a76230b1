"""config.py's `fastapi = {...}`: FastAPI(...)'s keyword arguments (issue 18.3, SPEC 12.3).

Each key reaches FastAPI(...) (the document, the docs pages, the request scope show it), on the
newest FastAPI and the oldest we support; `build` (and every command that loads config.py)
checks each key against the installed FastAPI's signature and hints, refuses the arguments
fastapi-route passes itself, and a key given both here and at top level, each an error with
code, file, line and hint, exit 1 and no traceback.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import app_in_mode, write_tree
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.errors import ConfigError
from fastapi_route.pipeline.build import compile_table
from fastapi_route.settings import FASTAPI_OWN_ARGUMENTS

MODES = ["eager", "cache-lazy"]  # a scan registering everything; the cache, on first use
FASTAPI_ARGUMENTS = inspect.signature(FastAPI.__init__).parameters
ITEMS = """
from pydantic import BaseModel, ConfigDict


class Item(BaseModel):
    # an answer always has `description`, a request may leave it out: two schemas, unless
    # separate_input_output_schemas is False
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
    name: str
    description: str | None = None


def POST(request, item: Item) -> Item:
    return item


def GET(request):
    return {"root_path": request.scope.get("root_path")}
"""
TREE = {"routes/items/route.py": ITEMS, "routes/index.py": "def GET(request):\n    return {}\n"}


def project(tmp_path: Path, config: str, **files: str) -> Path:
    return write_tree(tmp_path / "app", {**TREE, "config.py": config, **files})


def client(root: Path, mode: str = "eager") -> TestClient:
    return TestClient(app_in_mode(root, mode))


def build(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["build", "--project", str(root)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def deprecated_by_fastapi(name: str) -> bool:
    """Whether the installed FastAPI marks FastAPI(name=...) deprecated (0.16x: root_path)."""
    hint = typing.get_type_hints(FastAPI.__init__, include_extras=True).get(name)
    return any(hasattr(m, "message") for m in getattr(hint, "__metadata__", ()))


@contextlib.contextmanager
def fastapis_deprecation(name: str) -> Iterator[None]:
    """FastAPI's own warning for an argument it deprecates, which a plain FastAPI app gets
    too: expected exactly where the installed FastAPI deprecates it."""
    if deprecated_by_fastapi(name):
        with pytest.warns(UserWarning, match=f"`{name}` parameter is deprecated"):
            yield
    else:
        yield


# --------------------------------------------------------------------- each key reaches FastAPI


@pytest.mark.parametrize("mode", MODES)
def test_root_path_is_in_the_documents_servers_and_in_the_scope(tmp_path: Path, mode: str
                                                                ) -> None:
    root = project(tmp_path, 'fastapi = {"root_path": "/api"}\n')
    with fastapis_deprecation("root_path"):
        app = app_in_mode(root, mode)
    with TestClient(app) as c:
        assert c.get("/items").json() == {"root_path": "/api"}
        assert c.get("/openapi.json").json()["servers"] == [{"url": "/api"}]


@pytest.mark.parametrize("mode", MODES)
def test_document_settings_are_in_the_document(tmp_path: Path, mode: str) -> None:
    root = project(tmp_path, """
        fastapi = {
            "title": "Shop",
            "summary": "Things to buy",
            "openapi_tags": [{"name": "items", "description": "What we sell"}],
            "servers": [{"url": "https://shop.example", "description": "production"}],
            "contact": {"name": "Desk", "email": "desk@shop.example"},
            "license_info": {"name": "MIT"},
            "terms_of_service": "https://shop.example/terms",
        }
    """)
    with client(root, mode) as c:
        document = c.get("/openapi.json").json()
    assert document["info"] == {
        "title": "Shop", "summary": "Things to buy", "version": "1.0.0",
        "contact": {"name": "Desk", "email": "desk@shop.example"},
        "license": {"name": "MIT"}, "termsOfService": "https://shop.example/terms",
    }
    assert document["tags"] == [{"name": "items", "description": "What we sell"}]
    assert document["servers"] == [{"url": "https://shop.example", "description": "production"}]
    assert load_config(root).app_name == "Shop"  # `title` is app_name: docs.py's context says so


@pytest.mark.parametrize("mode", MODES)
def test_swagger_ui_parameters_are_in_the_docs_page(tmp_path: Path, mode: str) -> None:
    root = project(tmp_path, 'fastapi = {"swagger_ui_parameters": {"deepLinking": False}}\n')
    with client(root, mode) as c:
        page = c.get("/docs").text
    assert '"deepLinking": false' in page
    with client(project(tmp_path, "")) as c:
        assert '"deepLinking": true' in c.get("/docs").text  # FastAPI's default, for contrast


@pytest.mark.parametrize("mode", MODES)
def test_docs_url_and_redoc_url_move_or_turn_off_the_pages(tmp_path: Path, mode: str) -> None:
    root = project(tmp_path, 'fastapi = {"docs_url": "/api-docs", "redoc_url": None}\n')
    with client(root, mode) as c:
        assert c.get("/api-docs").status_code == 200
        assert "swagger-ui" in c.get("/api-docs").text
        assert c.get("/docs").status_code == 404
        assert c.get("/redoc").status_code == 404
        assert c.get("/openapi.json").status_code == 200


def test_a_custom_docs_url_serves_docs_py_there(tmp_path: Path) -> None:
    page = "def handler(request, context):\n    return '<p>our docs</p>'\n"
    root = project(tmp_path, 'fastapi = {"docs_url": "/api-docs"}\n', **{"docs.py": page})
    with client(root) as c:
        assert c.get("/api-docs").text == "<p>our docs</p>"
        assert c.get("/docs").status_code == 404
    result = CliRunner().invoke(main, ["explain", "GET", "/api-docs", "--scan",
                                       "--project", str(root)])
    assert result.exit_code == 0, result.output
    assert "answered by docs.py" in result.output and "/api-docs" in result.output


def test_docs_url_none_turns_docs_py_off_too(tmp_path: Path) -> None:
    page = "def handler(request, context):\n    return '<p>our docs</p>'\n"
    root = project(tmp_path, 'fastapi = {"docs_url": None}\n', **{"docs.py": page})
    with client(root) as c:
        assert c.get("/docs").status_code == 404
        assert c.get("/redoc").status_code == 200  # only the docs page is off


def test_openapi_url_none_in_fastapi_turns_the_document_off(tmp_path: Path) -> None:
    root = project(tmp_path, 'fastapi = {"openapi_url": None}\n')
    assert load_config(root).openapi_url is None
    with client(root) as c:
        for url in ("/openapi.json", "/docs", "/redoc"):
            assert c.get(url).status_code == 404, url


@pytest.mark.parametrize("mode", MODES)
def test_separate_input_output_schemas_false_makes_one_schema(tmp_path: Path, mode: str
                                                             ) -> None:
    with client(project(tmp_path, ""), mode) as c:
        separate = set(c.get("/openapi.json").json()["components"]["schemas"])
    root = project(tmp_path, 'fastapi = {"separate_input_output_schemas": False}\n')
    with client(root, mode) as c:
        one = set(c.get("/openapi.json").json()["components"]["schemas"])
    assert {"Item-Input", "Item-Output"} <= separate and "Item" not in separate
    assert "Item" in one and not one & {"Item-Input", "Item-Output"}


@pytest.mark.parametrize("mode", MODES)
def test_dependencies_apply_to_every_file_route(tmp_path: Path, mode: str) -> None:
    """An argument fastapi-route has no name for goes to FastAPI as is: app-wide dependencies
    apply to routes registered on first use too."""
    root = project(tmp_path, """
        from fastapi import Depends, Header, HTTPException


        def _token(x_token: str = Header("")):
            if x_token != "secret":
                raise HTTPException(403, "no token")


        fastapi = {"dependencies": [Depends(_token)]}
    """)
    with client(root, mode) as c:
        assert c.get("/items").status_code == 403
        assert c.get("/items", headers={"x-token": "secret"}).status_code == 200


def test_a_route_may_take_a_moved_pages_old_url(tmp_path: Path) -> None:
    """SHADOWED_ROUTE follows the pages: /docs is free once Swagger UI moved, /api-docs not."""
    root = project(tmp_path, 'fastapi = {"docs_url": "/api-docs"}\n', **{
        "routes/docs/route.py": "def GET(request):\n    return {'mine': True}\n"})
    assert compile_table(root, load_config(root)).warnings == []
    with client(root) as c:
        assert c.get("/docs").json() == {"mine": True}
    write_tree(root, {"routes/api-docs/route.py": "def GET(request):\n    return {}\n"})
    code, out = build(root)
    assert code == 1
    assert ("SHADOWED_ROUTE routes/api-docs/route.py:1 GET /api-docs never reaches this file: "
            "FastAPI's Swagger UI (/api-docs) answers that URL first") in out


@pytest.mark.parametrize("setting", [
    'fastapi = {"docs_url": "/api-docs", "redoc_url": "/api-redoc"}',
    'fastapi = {"docs_url": None}',
    'fastapi = {"swagger_ui_oauth2_redirect_url": "/api-docs/oauth2"}',
    'fastapi = {"swagger_ui_oauth2_redirect_url": None, "openapi_url": "/schema.json"}',
    'fastapi = {"docs_url": "/api-docs", "redoc_url": None}\n# with docs.py',
])
def test_the_build_knows_every_page_the_app_adds(tmp_path: Path, setting: str) -> None:
    """SHADOWED_ROUTE's list of pages is the runtime's: the GET routes of an app with one route
    file, besides that file's."""
    from fastapi_route.pipeline.shadowing import app_pages
    from fastapi_route.project import Project
    from fastapi_route.runtime.app import create_app

    docs = {"docs.py": "def handler(request, context):\n    return 'd'\n"}
    root = write_tree(tmp_path / "app", {"routes/index.py": TREE["routes/index.py"],
                                         "config.py": setting + "\n",
                                         **(docs if "docs.py" in setting else {})})
    app = create_app(Project(root), source="scan", schedule="eager")
    served = {r.path for r in app.routes if "GET" in (getattr(r, "methods", None) or ())}
    pages = app_pages(load_config(root), (root / "docs.py").is_file())
    assert served - {"/"} == {url for url, _ in pages}


# --------------------------------------------------------------------- checked at build


def test_an_unknown_key_is_located_with_the_closest_name(tmp_path: Path) -> None:
    root = project(tmp_path, """
        app_name = "Shop"
        fastapi = {
            "docs_url": "/api-docs",
            "swagger_ui_parameter": {"deepLinking": False},
        }
    """)
    code, out = build(root)
    assert code == 1
    assert ("UNKNOWN_CONFIG_KEY config.py:4 'fastapi.swagger_ui_parameter' is not a keyword "
            "argument of FastAPI(...)") in out
    assert "hint: did you mean 'swagger_ui_parameters'?" in out
    assert not (root / ".cache").exists()


def test_a_key_set_after_the_dict_is_located_at_its_own_line(tmp_path: Path) -> None:
    root = project(tmp_path, """
        fastapi = dict(docs_url="/api-docs")
        fastapi["colour"] = "blue"
    """)
    code, out = build(root)
    assert code == 1
    assert "UNKNOWN_CONFIG_KEY config.py:2 'fastapi.colour'" in out
    assert "did you mean" not in out  # no FastAPI argument is close to it


@pytest.mark.parametrize("name", sorted(FASTAPI_OWN_ARGUMENTS))
def test_arguments_fastapi_route_passes_are_refused_with_a_hint_to_app_py(
        tmp_path: Path, name: str) -> None:
    root = project(tmp_path, f'debug = False\nfastapi = {{"{name}": None}}\n')
    code, out = build(root)
    assert code == 1
    assert f"INVALID_CONFIG config.py:2 'fastapi.{name}' is set by fastapi-route itself" in out
    hint = out.split("hint: ", 1)[1]
    assert "app.py" in hint


@pytest.mark.parametrize(("key", "top", "value"), [
    ("title", "app_name", '"Shop"'), ("version", "version", '"2.0"'),
    ("description", "description", '"d"'), ("openapi_url", "openapi_url", "None"),
    ("debug", "debug", "True"),
])
def test_a_key_given_twice_names_both_lines(tmp_path: Path, key: str, top: str, value: str
                                            ) -> None:
    root = project(tmp_path, f'{top} = {value}\n\nfastapi = {{\n    "{key}": {value},\n}}\n')
    code, out = build(root)
    assert code == 1
    assert (f"INVALID_CONFIG config.py:4 'fastapi.{key}' and '{top}' (config.py:1) both set "
            f"FastAPI's `{key}`") in out
    assert f"hint: keep one of them: the top-level `{top}`, or `fastapi.{key}`" in out


@pytest.mark.parametrize(("entry", "message"), [
    ('"servers": {"url": "/"}', "'fastapi.servers' must be "),  # FastAPI's hint, as written
    ('"root_path_in_servers": "no"', "'fastapi.root_path_in_servers' must be bool"),
    ('"docs_url": "api-docs"', "'fastapi.docs_url' must be a URL path starting with '/'"),
    ('"redoc_url": ""', "'fastapi.redoc_url' must be a URL path starting with '/'"),
    ('"title": 3', "'fastapi.title' must be a string, got 3"),
    ('"openapi_tags": [{"name": "items"}, "orders"]', "'fastapi.openapi_tags' must be "),
    # what FastAPI would refuse only when it makes the document (a 500 on /openapi.json)
    ('"openapi_tags": [{"name": "items"}, {"description": "no name"}]',
     "'fastapi.openapi_tags' must be a list of OpenAPI Tag objects, as the document holds it "
     "([1]['name']: Field required)"),
    ('"license_info": {"url": "https://x.example"}',
     "'fastapi.license_info' must be an OpenAPI License object, as the document holds it "
     "(['name']: Field required)"),
])
def test_a_value_fastapi_would_not_take_is_refused(tmp_path: Path, entry: str, message: str
                                                   ) -> None:
    root = project(tmp_path, f"fastapi = {{\n    {entry},\n}}\n")
    code, out = build(root)
    assert code == 1
    assert f"INVALID_CONFIG config.py:2 {message}" in out, out
    if entry.startswith('"servers"'):  # pydantic's word on it
        assert "(Input should be a valid list), got {'url': '/'}" in out


@pytest.mark.parametrize("value", ['"docs"', "[('docs_url', '/x')]", "{1: 2}"])
def test_fastapi_must_be_a_dict_of_names(tmp_path: Path, value: str) -> None:
    code, out = build(project(tmp_path, f"fastapi = {value}\n"))
    assert code == 1
    assert "INVALID_CONFIG config.py:1 'fastapi' must be a dict of FastAPI(...) keyword" in out


@pytest.mark.parametrize(("name", "value"), [
    ("openapi_prefix", ""), ("openapi_external_docs", {"url": "https://docs.example"})])
def test_keys_are_those_of_the_installed_fastapi(tmp_path: Path, name: str, value: object
                                                 ) -> None:
    """`openapi_prefix` left FastAPI after 0.110, `openapi_external_docs` came later: each is
    accepted exactly where the installed FastAPI takes it."""
    root = project(tmp_path, f"fastapi = {{{name!r}: {value!r}}}\n")
    if name in FASTAPI_ARGUMENTS:
        assert load_config(root).fastapi == {name: value}
    else:
        with pytest.raises(ConfigError, match=f"UNKNOWN_CONFIG_KEY config.py:1 'fastapi.{name}'"):
            load_config(root)


def test_run_refuses_what_build_refuses(tmp_path: Path) -> None:
    """config.py is read again at every start: a FastAPI upgrade that drops an argument is
    caught there, before a port is bound, with the same message."""
    root = project(tmp_path, 'fastapi = {"docs_urll": "/x"}\n')
    result = CliRunner().invoke(main, ["run", "--project", str(root)])
    assert result.exit_code == 1
    assert "UNKNOWN_CONFIG_KEY config.py:1 'fastapi.docs_urll'" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ConfigError, match="did you mean 'docs_url'"):
        app_in_mode(root, "eager")


# --------------------------------------------------------------------- the cost at build


def _imported_by_build(root: Path) -> bool:
    code = ("import sys; from fastapi_route.config import load_config; "
            "from fastapi_route.pipeline.build import build; from pathlib import Path; "
            f"root = Path({str(root)!r}); build(root, load_config(root)); "
            "print('fastapi' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True)
    return result.stdout.strip() == "True"


def test_only_a_fastapi_setting_makes_build_import_fastapi(tmp_path: Path) -> None:
    assert not _imported_by_build(write_tree(tmp_path / "plain", {**TREE, "config.py": ""}))
    with_key = write_tree(tmp_path / "keyed", {**TREE, "config.py": 'fastapi = {"docs_url": '
                                               '"/api-docs"}\n'})
    assert _imported_by_build(with_key)


# --------------------------------------------------------------------- the README


def test_the_readme_shows_the_setting() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    config_section = readme.split("### config.py", 1)[1].split("\n## ", 1)[0]
    assert "fastapi = {" in config_section
    for name in FASTAPI_OWN_ARGUMENTS:
        assert f"`{name}`" in config_section, name
