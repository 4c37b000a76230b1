"""SPEC 12.2 and 9 parity: FastAPI's "Testing Dependencies with Overrides" tutorial against its
port, examples/dependency_testing: a project that is a Python package, so its files are
modules of `dependency_testing` and a test imports the dependency the routes use by that name.

Each test copies the example to `tmp_path/dependency_testing` and puts `tmp_path` on sys.path
(as an installed or editable package is), imports `dependency_testing.dependencies` (or a
route module, `dependency_testing.routes.items.route`) and overrides the dependency with
`app.dependency_overrides`, in every mode the runtime builds an app (parity.PORT_MODES),
including a route imported and made real only after the override is set (the lazy modes).
The answers are the tutorial's app's, with and without the override. The example's own test
file (what a user of the project writes) passes under pytest as written; and a layout's
dependency, imported from `<package>.routes._layout`, is overridden the same way.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from conftest import copy_example
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from parity import PORT_MODES, assert_same_meaning, port_app
from servers import child_env

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "dependency_testing"
PACKAGE = "dependency_testing"
ITEMS_ROUTE = f"{PACKAGE}.routes.items.route"


# --- the tutorial, as FastAPI has it ----------------------------------------------------------


async def common_parameters(q: str | None = None, skip: int = 0, limit: int = 100) -> dict:
    return {"q": q, "skip": skip, "limit": limit}


def original_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/")
    async def read_items(commons: Annotated[dict, Depends(common_parameters)]) -> Any:
        return {"message": "Hello Items!", "params": commons}

    @app.get("/users/")
    async def read_users(commons: Annotated[dict, Depends(common_parameters)]) -> Any:
        return {"message": "Hello Users!", "params": commons}

    return app


async def override_dependency(q: str | None = None) -> dict:
    return {"q": q, "skip": 5, "limit": 10}


URLS = ["/items", "/items?q=foo", "/items?q=foo&skip=100&limit=200", "/users",
        "/users?skip=7", "/items?skip=x"]


def answers(app: FastAPI) -> list[tuple[int, Any]]:
    with TestClient(app) as client:
        found = []
        for url in URLS:
            response = client.get(url)
            body = response.json()
            if response.status_code == 422:
                for error in body["detail"]:  # older FastAPI releases add pydantic's docs URL
                    error.pop("url", None)
            found.append((response.status_code, body))
        return found


def original_answers(overridden: bool) -> list[tuple[int, Any]]:
    app = original_app()
    if overridden:
        app.dependency_overrides[common_parameters] = override_dependency
    return answers(app)


def test_the_yardstick() -> None:
    plain, overridden = original_answers(False), original_answers(True)
    assert plain[1] == (200, {"message": "Hello Items!",
                              "params": {"q": "foo", "skip": 0, "limit": 100}})
    assert overridden[2] == (200, {"message": "Hello Items!",
                                   "params": {"q": "foo", "skip": 5, "limit": 10}})
    assert plain[-1][0] == 422 and overridden[-1][0] == 200  # the override has no `skip`


# --- the port ---------------------------------------------------------------------------------


def _forget_package() -> None:
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example as the importable package `dependency_testing` (its folder's parent on
    sys.path); no module of an earlier copy stays in sys.modules, before or after."""
    root = copy_example(EXAMPLE, tmp_path)
    assert root.name == PACKAGE
    _forget_package()
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield root
    finally:
        _forget_package()


def dependency() -> Any:
    """`common_parameters`, imported as a test imports it: by the package's real name."""
    return importlib.import_module(f"{PACKAGE}.dependencies").common_parameters


@pytest.mark.parametrize("mode", PORT_MODES)
def test_an_override_of_the_imported_dependency_applies(mode: str, package: Path) -> None:
    common = dependency()  # imported before the app is made
    app = port_app(package, mode)
    assert answers(app) == original_answers(False)
    app.dependency_overrides[common] = override_dependency
    assert answers(app) == original_answers(True)
    app.dependency_overrides.clear()
    assert answers(app) == original_answers(False)


@pytest.mark.parametrize("mode", PORT_MODES)
def test_a_route_made_real_after_the_override_is_set(mode: str, package: Path) -> None:
    """The app first, then the import and the override, then the first request: a lazy
    route imports its file only now, and gets the very function the test overrode."""
    app = port_app(package, mode)
    common = dependency()
    app.dependency_overrides[common] = override_dependency
    if mode.endswith("lazy"):  # nothing of the route imported yet: it is made on this request
        assert ITEMS_ROUTE not in sys.modules
    assert answers(app) == original_answers(True)
    route_module = sys.modules[ITEMS_ROUTE]
    assert route_module.common_parameters is common


@pytest.mark.parametrize("mode", PORT_MODES)
def test_a_route_module_imported_by_its_real_name_is_the_one_served(
    mode: str, package: Path
) -> None:
    """`dependency_testing.routes.items.route`, imported by the test before the app exists,
    is the module the app serves: its handler is the function FastAPI registered (behind
    the thin adapter every handler gets), and its dependency the one to override."""
    items = importlib.import_module(ITEMS_ROUTE)
    app = port_app(package, mode)
    app.dependency_overrides[items.common_parameters] = override_dependency
    assert answers(app) == original_answers(True)
    (route,) = (r for r in app.routes if isinstance(r, APIRoute) and r.path == "/items")
    assert inspect.unwrap(route.endpoint) is items.GET
    assert sys.modules[ITEMS_ROUTE] is items


@pytest.mark.parametrize("mode", PORT_MODES)
def test_openapi_means_the_same(mode: str, package: Path) -> None:
    with TestClient(original_app()) as original, TestClient(port_app(package, mode)) as ported:
        assert_same_meaning(original.get("/openapi.json").json(),
                            ported.get("/openapi.json").json())


def test_the_examples_own_tests_pass_as_written(package: Path) -> None:
    """examples/dependency_testing/tests/test_overrides.py, run as its docstring says: from
    the folder holding the package, `python -m pytest dependency_testing/tests`."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{PACKAGE}/tests"],
        cwd=package.parent, env=child_env({"PYTHONPATH": str(REPO)}),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout
    assert "4 passed" in result.stdout, result.stdout


def test_the_package_is_imported_by_its_name(package: Path) -> None:
    """What the tests above rely on: the project's base package is the real one (not a
    private name), so the route modules are `dependency_testing.routes...`."""
    app = port_app(package, "eager")
    assert answers(app)[0][0] == 200
    module = sys.modules[ITEMS_ROUTE]
    assert isinstance(module, types.ModuleType)
    assert Path(module.__file__ or "").resolve() == (package / "routes/items/route.py").resolve()
    assert [Path(p).resolve() for p in sys.modules[PACKAGE].__path__] == [package.resolve()]


# --- a layout's dependency, overridden the same way -------------------------------------------

GUARDED = "guarded_shop"  # another package project, written here
GUARDED_TREE = {
    "__init__.py": "",
    # A layout's own function, as the layout's module holds it: `guarded_shop.routes._layout`.
    "routes/_layout.py": """
        from typing import Annotated

        from fastapi import Depends, Header, HTTPException


        async def verify_token(x_token: Annotated[str, Header()]):
            if x_token != "fake-super-secret-token":
                raise HTTPException(status_code=400, detail="X-Token header invalid")


        dependencies = [Depends(verify_token)]
    """,
    "routes/items/route.py": """
        def GET(request):
            return {"items": ["plumbus"]}
    """,
}


@pytest.fixture
def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from conftest import write_tree

    def forget() -> None:
        for name in [n for n in sys.modules if n == GUARDED or n.startswith(GUARDED + ".")]:
            del sys.modules[name]

    root = write_tree(tmp_path / GUARDED, GUARDED_TREE)
    forget()
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield root
    finally:
        forget()


async def let_everyone_in() -> None:
    return None


@pytest.mark.parametrize("mode", PORT_MODES)
def test_a_layouts_dependency_overridden_by_its_modules_name(mode: str, guarded: Path) -> None:
    """`routes/_layout.py` is the module `guarded_shop.routes._layout`: a test imports its
    dependency by that name and overrides it (a lazy route made real afterwards included)."""
    app = port_app(guarded, mode)
    layout = importlib.import_module(f"{GUARDED}.routes._layout")
    app.dependency_overrides[layout.verify_token] = let_everyone_in
    if mode.endswith("lazy"):  # the route (and its layout's use) is made on the request below
        assert f"{GUARDED}.routes.items.route" not in sys.modules
    with TestClient(app) as client:
        assert client.get("/items").json() == {"items": ["plumbus"]}
        app.dependency_overrides.clear()
        assert client.get("/items").status_code == 422  # no X-Token header
        assert client.get("/items", headers={"X-Token": "wrong"}).status_code == 400
