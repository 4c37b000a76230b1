"""config.py's `docs = {"offline": True}` (SPEC 14.5): Swagger UI and ReDoc load their files
from the app (fastapi-offline's copies, served below each page's URL), never from a CDN.

The HTML is FastAPI's own (its public helpers), so the offline pages are compared with the
pages FastAPI makes itself, CDN URLs swapped for the app's. A browser with the network off
renders them: test_offline_docs_browser.py.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import app_in_mode, write_tree
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.testclient import TestClient

from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.errors import BuildFailed, ConfigError
from fastapi_route.pipeline.build import compile_table
from fastapi_route.runtime import offline_docs

README = Path(__file__).resolve().parents[1] / "README.md"
ROUTES = {
    "routes/items/[item_id]/route.py": (
        "def GET(request, item_id: int):\n    '''Read one item.'''\n    return {'id': item_id}\n"
    ),
}
OFFLINE = 'app_name = "Shop"\ndocs = {"offline": True}\n'
SWAGGER_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
REDOC_FILES = {
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


def package_file(name: str) -> bytes:
    folder = offline_docs._package_folder()
    assert folder is not None, "fastapi-offline is a test dependency"
    return (folder / name).read_bytes()


def tree(tmp_path: Path, config: str = OFFLINE, **files: str) -> Path:
    return write_tree(tmp_path / "app", {**ROUTES, "config.py": config, **files})


def urls_in(html: str) -> list[str]:
    """Every URL the page loads by itself: src and href attributes, and the document's."""
    found = re.findall(r'(?:src|href)="([^"]*)"', html)
    found += re.findall(r"url: '([^']*)'", html) + re.findall(r'spec-url="([^"]*)"', html)
    assert found, html
    return found


def cdn_defaults() -> dict[str, str]:
    """The CDN URLs FastAPI's helpers put in a page by default, by argument name."""
    return {name: p.default
            for helper in (get_swagger_ui_html, get_redoc_html)
            for name, p in inspect.signature(helper).parameters.items()
            if isinstance(p.default, str) and p.default.startswith("https://")}


# --- config.py --------------------------------------------------------------------------------


def test_offline_is_a_docs_setting(tmp_path: Path) -> None:
    assert load_config(tree(tmp_path)).docs.offline is True
    assert load_config(tree(tmp_path, "app_name = 'x'\n")).docs.offline is False


@pytest.mark.parametrize(("value", "says"), [
    ('{"offline": "yes"}', "'docs.offline' must be True or False, got 'yes'"),
    ('{"ofline": True}', "'docs.ofline' is not a known setting"),
    ("True", "'docs' must be a dict, got True"),
])
def test_a_wrong_docs_setting_is_refused_at_its_line(tmp_path: Path, value: str,
                                                      says: str) -> None:
    root = tree(tmp_path, f"app_name = 'x'\ndocs = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert "INVALID_CONFIG config.py:2" in str(caught.value)
    assert says in str(caught.value)


# --- the pages and their files ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["eager", "cache-lazy"])
def test_the_pages_load_only_the_apps_own_files(tmp_path: Path, mode: str) -> None:
    with TestClient(app_in_mode(tree(tmp_path), mode)) as client:
        for page, files in (("/docs", SWAGGER_FILES), ("/redoc", REDOC_FILES)):
            response = client.get(page)
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            assert "https://" not in response.text and "http://" not in response.text
            assert sorted(urls_in(response.text)) == sorted(
                ["/openapi.json", *(f"{page}/{name}" for name in files)]), response.text
            for name, media_type in files.items():
                asset = client.get(f"{page}/{name}")
                assert asset.status_code == 200, (page, name)
                assert asset.headers["content-type"] == media_type
                assert asset.content == package_file(name)
                assert "etag" in asset.headers
                head = client.head(f"{page}/{name}")
                assert head.status_code == 200 and head.content == b""
        assert client.get("/items/3").json() == {"id": 3}


def test_the_pages_are_fastapis_own_with_local_urls(tmp_path: Path) -> None:
    """Same HTML as FastAPI's pages (title, OAuth2 settings, Swagger UI parameters), but the
    files' URLs, and ReDoc without Google's fonts."""
    settings = ('fastapi = {"swagger_ui_parameters": {"deepLinking": False}, '
                '"swagger_ui_init_oauth": {"clientId": "shop-docs"}}\n')
    online = TestClient(app_in_mode(tree(tmp_path / "online", 'app_name = "Shop"\n' + settings),
                                    "eager"))
    offline = TestClient(app_in_mode(tree(tmp_path / "offline", OFFLINE + settings), "eager"))
    local = {"swagger_js_url": "/docs/swagger-ui-bundle.js",
             "swagger_css_url": "/docs/swagger-ui.css",
             "swagger_favicon_url": "/docs/favicon.png",
             "redoc_js_url": "/redoc/redoc.standalone.js",
             "redoc_favicon_url": "/redoc/favicon.png"}
    for page, helper in (("/docs", "swagger_"), ("/redoc", "redoc_")):
        expected = online.get(page).text
        for name, url in cdn_defaults().items():
            if name.startswith(helper):
                expected = expected.replace(url, local[name])
        if page == "/redoc":
            expected = re.sub(r'\s*<link href="https://fonts.googleapis.com[^>]*>', "",
                              expected)
        assert offline.get(page).text == expected
    assert '"clientId": "shop-docs"' in offline.get("/docs").text


def test_the_oauth2_redirect_is_served(tmp_path: Path) -> None:
    with TestClient(app_in_mode(tree(tmp_path), "eager")) as client:
        redirect = client.get("/docs/oauth2-redirect")
        assert redirect.status_code == 200
        assert "oauth2" in redirect.text and "https://" not in redirect.text
        assert "window.location.origin + '/docs/oauth2-redirect'" in client.get("/docs").text


def test_redoc_may_show_no_image_from_elsewhere(tmp_path: Path) -> None:
    """ReDoc's bundle puts its makers' logo, from their CDN, in the footer: the page's policy
    keeps the browser from asking for it."""
    with TestClient(app_in_mode(tree(tmp_path), "eager")) as client:
        policy = client.get("/redoc").headers["content-security-policy"]
    assert policy == "img-src 'self' data: blob:"


def test_behind_a_proxy_the_urls_carry_its_prefix(tmp_path: Path) -> None:
    with TestClient(app_in_mode(tree(tmp_path), "eager"), root_path="/shop") as client:
        swagger = client.get("/docs").text
        assert sorted(urls_in(swagger)) == ["/shop/docs/favicon.png",
                                            "/shop/docs/swagger-ui-bundle.js",
                                            "/shop/docs/swagger-ui.css", "/shop/openapi.json"]
        assert "window.location.origin + '/shop/docs/oauth2-redirect'" in swagger
        assert sorted(urls_in(client.get("/redoc").text)) == [
            "/shop/openapi.json", "/shop/redoc/favicon.png", "/shop/redoc/redoc.standalone.js"]
        assert client.get("/docs/swagger-ui.css").status_code == 200


def test_mounted_under_a_prefix(tmp_path: Path) -> None:
    outer = FastAPI()
    outer.mount("/shop", app_in_mode(tree(tmp_path), "eager"))
    with TestClient(outer) as client:
        swagger = client.get("/shop/docs").text
        assert "/shop/docs/swagger-ui-bundle.js" in swagger and "'/shop/openapi.json'" in swagger
        assert client.get("/shop/docs/swagger-ui-bundle.js").content == package_file(
            "swagger-ui-bundle.js")
        assert client.get("/shop/redoc/redoc.standalone.js").status_code == 200


def test_the_pages_own_urls_move_their_files(tmp_path: Path) -> None:
    config = OFFLINE + ('fastapi = {"docs_url": "/api-docs", "redoc_url": "/reference", '
                        '"swagger_ui_oauth2_redirect_url": "/api-docs/callback"}\n')
    with TestClient(app_in_mode(tree(tmp_path, config), "eager")) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert client.get("/docs/swagger-ui.css").status_code == 404
        swagger = client.get("/api-docs").text
        assert "/api-docs/swagger-ui-bundle.js" in swagger
        assert "window.location.origin + '/api-docs/callback'" in swagger
        assert client.get("/api-docs/callback").status_code == 200
        assert client.get("/api-docs/swagger-ui.css").status_code == 200
        assert "/reference/redoc.standalone.js" in client.get("/reference").text
        assert client.get("/reference/redoc.standalone.js").status_code == 200


def test_with_docs_py_only_redoc_is_offline(tmp_path: Path) -> None:
    page = "def handler(request, context):\n    return '<p>our docs</p>'\n"
    with TestClient(app_in_mode(tree(tmp_path, **{"docs.py": page}), "eager")) as client:
        assert "our docs" in client.get("/docs").text
        assert client.get("/docs/swagger-ui-bundle.js").status_code == 404
        assert client.get("/redoc/redoc.standalone.js").status_code == 200


@pytest.mark.parametrize("setting", ["docs_enabled = False", "openapi_url = None"])
def test_no_pages_no_files_and_no_package_needed(tmp_path: Path, setting: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline_docs, "PACKAGE", "fastapi_offline_not_installed")
    with TestClient(app_in_mode(tree(tmp_path, OFFLINE + setting + "\n"), "eager")) as client:
        for url in ("/docs", "/redoc", "/docs/swagger-ui.css", "/redoc/redoc.standalone.js"):
            assert client.get(url).status_code == 404


# --- without the package --------------------------------------------------------------------


def test_without_the_package_the_app_is_not_made(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline_docs, "PACKAGE", "fastapi_offline_not_installed")
    root = tree(tmp_path, 'app_name = "Shop"\ndocs = {\n    "offline": True,\n}\n')
    with pytest.raises(ConfigError) as caught:
        app_in_mode(root, "eager")
    said = str(caught.value)
    assert said.startswith("INVALID_CONFIG config.py:3 'docs.offline' needs the "
                           "fastapi-offline package"), said
    assert 'pip install "fastapi-route[offline-docs]"' in said


@pytest.mark.parametrize("options", [[], ["--workers", "2", "--lazy"]])
def test_run_without_the_package_exits_1_naming_config_py(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str]) -> None:
    """`build` runs none of the app and may run where the app's dependencies are not (a
    wheel's isolated build): it passes; `run` refuses before any port is bound."""
    root = tree(tmp_path)
    monkeypatch.setattr(offline_docs, "PACKAGE", "fastapi_offline_not_installed")
    built = CliRunner().invoke(main, ["build", "--project", str(root)])
    assert built.exit_code == 0, built.output
    def serve(*args: object, **kwargs: object) -> None:
        raise AssertionError("run reached uvicorn")  # a failure, not a server that never ends

    monkeypatch.setattr("uvicorn.run", serve)
    ran = CliRunner().invoke(main, ["run", "--project", str(root), "--port", "9", *options])
    assert ran.exit_code == 1, ran.output
    assert "INVALID_CONFIG config.py:2 'docs.offline' needs the fastapi-offline" in ran.output
    assert "fastapi-route[offline-docs]" in ran.output
    assert "Traceback" not in ran.output and "Serving" not in ran.output


def test_a_package_without_the_files_is_named(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline_docs, "_FOLDER", "no-such-folder")
    with pytest.raises(ConfigError, match=r"needs favicon.png, redoc.standalone.js, "
                       r"swagger-ui-bundle.js, swagger-ui.css from fastapi-offline"):
        app_in_mode(tree(tmp_path), "eager")


# --- the URLs the files take ----------------------------------------------------------------


def test_a_route_at_a_files_url_is_shadowed(tmp_path: Path) -> None:
    root = tree(tmp_path, **{"routes/redoc/favicon.png/route.py":
                             "def GET(request):\n    return {}\n"})
    with pytest.raises(BuildFailed) as caught:
        compile_table(root, load_config(root))
    said = str(caught.value)
    assert "SHADOWED_ROUTE" in said
    assert "the offline docs' favicon.png (/redoc/favicon.png) answers that URL first" in said


def test_a_probe_may_not_take_a_files_url(tmp_path: Path) -> None:
    root = tree(tmp_path, OFFLINE + "health = {'live': '/docs/swagger-ui.css'}\n")
    with pytest.raises(ConfigError, match=r"'health.live' \('/docs/swagger-ui.css'\) is the "
                       r"path of the offline docs' swagger-ui.css"):
        load_config(root)


def test_the_readme_says_how() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert 'docs = {"offline": True}' in text
    assert 'pip install "fastapi-route[offline-docs]"' in text
    assert "docs/offline-docs.png" in text


def test_explain_says_whose_the_pages_and_files_are(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert CliRunner().invoke(main, ["build", "--project", str(root)]).exit_code == 0
    for url in ("/docs", "/docs/swagger-ui.css", "/redoc/redoc.standalone.js"):
        said = CliRunner().invoke(main, ["explain", "GET", url, "--project", str(root)])
        assert said.exit_code == 0, said.output
        assert f"(GET HEAD {url})" in said.output
        assert "config.py's offline docs (docs = {'offline': True}" in said.output
