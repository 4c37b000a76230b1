"""config.py's docs settings do what FastAPI's do, and what the README says (issue 17, part 9).

`openapi_url = None` is FastAPI's way to turn the document off: accepted, and then neither
Swagger UI nor ReDoc is served (they show the document). `docs_enabled = False` turns off all
three, `/openapi.json` included. With the pages off, a route file may take their URLs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import app_in_mode, write_tree
from fastapi.testclient import TestClient

from fastapi_route.config import load_config
from fastapi_route.errors import ConfigError
from fastapi_route.pipeline.build import compile_table

README = Path(__file__).resolve().parents[1] / "README.md"
ROUTES = {
    "routes/index.py": "def GET(request):\n    return {'at': 'root'}\n",
}


def test_openapi_url_none_is_accepted(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {**ROUTES, "config.py": "openapi_url = None\n"})
    assert load_config(root).openapi_url is None


@pytest.mark.parametrize("value", ["'openapi.json'", "5", "''", "False"])
def test_other_openapi_urls_are_still_refused(tmp_path: Path, value: str) -> None:
    root = write_tree(tmp_path / "app", {**ROUTES, "config.py": f"openapi_url = {value}\n"})
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert "'openapi_url' must be a URL path starting with '/', or None" in str(caught.value)


@pytest.mark.parametrize("mode", ["eager", "cache-lazy"])
@pytest.mark.parametrize("setting", ["openapi_url = None", "docs_enabled = False"])
def test_no_document_no_docs_pages(tmp_path: Path, mode: str, setting: str) -> None:
    root = write_tree(tmp_path / "app", {**ROUTES, "config.py": setting + "\n"})
    with TestClient(app_in_mode(root, mode)) as client:
        assert client.get("/").json() == {"at": "root"}
        for url in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"):
            assert client.get(url).status_code == 404, (setting, url)


def test_without_the_document_a_route_may_take_its_url(tmp_path: Path) -> None:
    """No page is served first, so no SHADOWED_ROUTE: the route file answers."""
    root = write_tree(tmp_path / "app", {
        "config.py": "openapi_url = None\n",
        "routes/openapi.json/route.py": "def GET(request):\n    return {'mine': True}\n",
        "routes/redoc/route.py": "def GET(request):\n    return {'mine': True}\n",
    })
    assert compile_table(root, load_config(root)).warnings == []
    with TestClient(app_in_mode(root, "eager")) as client:
        assert client.get("/openapi.json").json() == {"mine": True}
        assert client.get("/redoc").json() == {"mine": True}


def test_a_docs_page_stays_without_the_document(tmp_path: Path) -> None:
    """docs.py's page is the project's own and needs no document: openapi_url = None leaves
    it at /docs; docs_enabled = False turns it off too."""
    page = "def handler(request, context):\n    return '<p>our docs</p>'\n"
    root = write_tree(tmp_path / "app", {**ROUTES, "config.py": "openapi_url = None\n",
                                          "docs.py": page})
    with TestClient(app_in_mode(root, "eager")) as client:
        assert "our docs" in client.get("/docs").text
        assert client.get("/openapi.json").status_code == 404
    write_tree(root, {"config.py": "docs_enabled = False\n"})
    with TestClient(app_in_mode(root, "eager")) as client:
        assert client.get("/docs").status_code == 404


def readme_paragraph(pattern: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = [p for p in text.split("\n\n") if re.search(pattern, p)]
    assert found, f"README says nothing matching {pattern!r}"
    return " ".join(" ".join(found).split())


def test_the_readme_says_what_the_docs_settings_turn_off() -> None:
    said = readme_paragraph(r"docs_enabled = False")
    assert "`/openapi.json`" in said and "`/docs`" in said and "`/redoc`" in said
    said = readme_paragraph(r"openapi_url = None")
    assert "Swagger UI" in said and "ReDoc" in said
