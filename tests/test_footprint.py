"""What an app keeps per route file and per route (issue 19, item 7), and that what it no
longer keeps changes nothing: a route file's folders are packages only when an import needs
them, an endpoint keeps no signature of its own when it is the handler's."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest
from conftest import write_tree
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import fastapi_route
from fastapi_route.config import load_config
from fastapi_route.project import Project
from fastapi_route.runtime.app import load_routes
from fastapi_route.runtime.endpoints import PathParams
from fastapi_route.runtime.modules import ProjectModules

TREE = {
    "routes/shop/items/route.py": "def GET(request):\n    return ['item']\n",
    "routes/shop/(admin)/users/[user_id]/route.py": """
        from ....shared import PREFIX
        from .helpers import VALUE

        def GET(request, user_id: int):
            return {"id": user_id, "value": VALUE, "prefix": PREFIX}
    """,
    "routes/shop/(admin)/users/[user_id]/helpers.py": "VALUE = 7\n",
    "routes/shop/shared.py": "PREFIX = 'p'\n",
    "routes/docs/[...path]/route.py": "def GET(request, path):\n    return path\n",
}


def _names(prefix: str) -> set[str]:
    return {n for n in sys.modules if n == prefix or n.startswith(prefix + ".")}


def test_plain_folders_are_packages_only_when_an_import_needs_them(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "api", TREE)
    modules = ProjectModules(Project(root))
    items = modules.load("routes/shop/items/route.py")
    assert items.__name__ == f"{modules.base}.routes.shop.items.route"
    assert items.__package__ == f"{modules.base}.routes.shop.items"
    # The file's module is registered (pydantic and typing look models up there), its
    # folders are not: nothing imported them.
    assert _names(modules.base) == {modules.base, items.__name__}
    # Relative imports, one folder up and three, reach the files beside and above.
    user = modules.load("routes/shop/(admin)/users/[user_id]/route.py")
    assert (user.VALUE, user.PREFIX) == (7, "p")
    package = sys.modules[f"{modules.base}.routes.shop._group_admin.users._param_user_id"]
    assert package.__path__ == [str(root / "routes/shop/(admin)/users/[user_id]")]
    assert sys.modules[f"{modules.base}.routes.shop"].shared.PREFIX == "p"



def test_a_file_a_test_imports_by_name_can_be_reloaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that imports a route file by the name its folder gives it (the app's module,
    `aliases`) can `importlib.reload` it: its folders are packages then, as Python leaves
    them."""
    root = write_tree(tmp_path / "api", TREE)
    monkeypatch.syspath_prepend(str(root))
    app = fastapi_route.create_app(root, source="scan", schedule="eager")
    items = importlib.import_module("routes.shop.items.route")
    assert items is inspect.getmodule(next(
        inspect.unwrap(r.endpoint) for r in app.routes if getattr(r, "path", "") == "/shop/items"))
    (root / "routes/shop/items/route.py").write_text(
        "def GET(request):\n    return ['again!']\n", encoding="utf-8")
    assert importlib.reload(items).GET(None) == ["again!"]
    for name in [n for n in sys.modules if n == "routes" or n.startswith("routes.")]:
        del sys.modules[name]


def test_a_module_file_beside_a_plain_folder_of_its_name_is_the_module(tmp_path: Path) -> None:
    """What Python imports for `from .helpers import x` when both `helpers.py` and a plain
    folder `helpers/` are there: the file, whatever was imported before."""
    root = write_tree(tmp_path / "api", {
        "routes/a/helpers/route.py": "def GET(request):\n    return 'folder'\n",
        "routes/a/helpers.py": "WHERE = 'file'\n",
        "routes/a/route.py": "from .helpers import WHERE\n\ndef GET(request):\n    return WHERE\n",
    })
    modules = ProjectModules(Project(root))
    modules.load("routes/a/helpers/route.py")
    assert modules.load("routes/a/route.py").WHERE == "file"


def test_a_namespace_package_below_a_project_spans_its_folders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder without `__init__.py` below an installed project is a namespace package
    (PEP 420) as Python makes it: its portions in other places of the parent's `__path__`
    are found too, not only the first folder of that name."""
    root = write_tree(tmp_path / "site1" / "nsshop", {
        "__init__.py": "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
        "plugins/first.py": "NAME = 'first'\n",
        "routes/route.py": """
            from nsshop.plugins import first, second

            def GET(request):
                return [first.NAME, second.NAME]
        """,
    })
    write_tree(tmp_path / "site2" / "nsshop", {"plugins/second.py": "NAME = 'second'\n"})
    monkeypatch.syspath_prepend(str(tmp_path / "site2"))
    monkeypatch.syspath_prepend(str(tmp_path / "site1"))
    try:
        app = fastapi_route.create_app(root, source="scan", schedule="eager")
        with TestClient(app) as client:
            assert client.get("/").json() == ["first", "second"]
        plugins = sys.modules["nsshop.plugins"]
        assert sorted(plugins.__path__) == [str(tmp_path / s / "nsshop" / "plugins")
                                            for s in ("site1", "site2")]
    finally:
        for name in _names("nsshop"):
            del sys.modules[name]


def test_an_endpoint_keeps_a_signature_only_when_it_is_not_the_handlers(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "api", {**TREE, "routes/plain/route.py": """
        from fastapi import Request

        def GET(request: Request, q: int = 0) -> dict:
            return {"q": q}
    """})
    app = fastapi_route.create_app(root, source="scan", schedule="eager")
    with TestClient(app) as client:
        assert client.get("/plain", params={"q": 4}).json() == {"q": 4}
        assert client.get("/plain", params={"q": "x"}).status_code == 422
        assert client.get("/shop/users/3").json() == {"id": 3, "value": 7, "prefix": "p"}
        assert client.get("/docs/a/b").json() == ["a", "b"]
    endpoints = {r.path: r.endpoint for r in app.routes if isinstance(r, APIRoute)}
    # What FastAPI reads is what `inspect.signature` says: the handler's own signature, found
    # through `__wrapped__`, when the URL says nothing more...
    plain = endpoints["/plain"]
    assert inspect.signature(plain) == inspect.signature(inspect.unwrap(plain))
    assert "__signature__" not in vars(plain)
    # ... else the endpoint's own: an unannotated `request` is the Request, a catch-all a str.
    for path in ("/shop/users/{user_id}", "/docs/{path:path}"):
        seen = inspect.signature(endpoints[path])
        assert "__signature__" in vars(endpoints[path]), path
        assert seen.parameters["request"].annotation.__name__ == "Request", path
    assert inspect.signature(endpoints["/docs/{path:path}"]).parameters["path"].annotation is str


def test_routes_without_a_catch_all_or_typed_segment_share_their_path_params(
        tmp_path: Path) -> None:
    root = write_tree(tmp_path / "api", {**TREE, "routes/n/[n=int]/route.py":
                                         "def GET(request, n):\n    return n\n"})
    routes = {r.path: r for r in load_routes(Project(root), load_config(root), "scan", False,
                                             None)}
    plain = PathParams.of(routes["/shop/items"])
    assert plain is PathParams.of(routes["/shop/users/{user_id}"])  # one for all of them
    assert PathParams.of(routes["/docs/{path:path}"]).catchall == "path"
    typed = next(r for p, r in routes.items() if p.startswith("/n/"))
    assert PathParams.of(typed).types == {"n": int}
