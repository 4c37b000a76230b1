"""SPEC 12.2: a test imports a route's helper or layout by its module name and gets the very
object the route uses, so `app.dependency_overrides` applies: for a plain project folder (the
file's path from the folder, with the folder on sys.path) and for a package (its real name),
imported before or after the app is made, under every schedule; files no import statement
can name through the tree's handle. The README's Testing example runs as written."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_tree
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_readme import section

import fastapi_route
from fastapi_route.runtime.aliases import adoptable

SCHEDULES = ["eager", "warm", "lazy"]
README = Path(__file__).resolve().parents[1] / "README.md"

TREE = {
    "routes/items/deps.py": """
        def get_db():
            return {"items": ["real"]}
    """,
    "routes/items/route.py": """
        from fastapi import Depends

        from .deps import get_db

        def GET(request, db=Depends(get_db)):
            return db["items"]
    """,
    "routes/admin/_layout.py": """
        from fastapi import Depends, HTTPException

        def admin_only():
            raise HTTPException(403, "admins only")

        dependencies = [Depends(admin_only)]
    """,
    "routes/admin/route.py": """
        def GET(request):
            return "admin"
    """,
    "routes/users/[user_id]/deps.py": """
        def current(user_id: str):
            return "real " + user_id
    """,
    "routes/users/[user_id]/route.py": """
        from fastapi import Depends

        from .deps import current

        def GET(request, user_id: str, who=Depends(current)):
            return who
    """,
}


@pytest.fixture
def forget_names():
    """Tests import the tree's files by top-level names (`routes...`, `shop...`): each test
    starts without them, as a new test process would."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.split(".")[0] in ("routes", "shop") or name.startswith("_fastapi_route_project_"):
            del sys.modules[name]
    importlib.invalidate_caches()


def check_overrides(app: FastAPI, deps: object, layout: object) -> None:
    app.dependency_overrides[deps.get_db] = lambda: {"items": ["fake"]}  # type: ignore[attr-defined]
    app.dependency_overrides[layout.admin_only] = lambda: None  # type: ignore[attr-defined]
    with TestClient(app) as client:
        assert client.get("/items").json() == ["fake"]
        assert client.get("/admin").json() == "admin"
    app.dependency_overrides.clear()
    with TestClient(app) as client:
        assert client.get("/items").json() == ["real"]
        assert client.get("/admin").status_code == 403


@pytest.mark.usefixtures("forget_names")
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("imported", ["before", "after"])
def test_a_plain_folder_by_its_path_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          schedule: str, imported: str) -> None:
    root = write_tree(tmp_path / "api", TREE)
    monkeypatch.syspath_prepend(str(root))  # pytest's pythonpath = ["."], run from the folder
    if imported == "before":  # at the top of a test module: before any app exists
        deps = importlib.import_module("routes.items.deps")
        layout = importlib.import_module("routes.admin._layout")
    app = fastapi_route.create_app(root, source="scan", schedule=schedule)  # type: ignore[arg-type]
    if imported == "after":
        deps = importlib.import_module("routes.items.deps")
        layout = importlib.import_module("routes.admin._layout")
    # lazy: the routes are made real by the requests below, after the override is set
    check_overrides(app, deps, layout)
    route_module = sys.modules[deps.get_db.__module__]
    assert route_module is deps


@pytest.mark.usefixtures("forget_names")
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("imported", ["before", "after"])
def test_a_package_by_its_real_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    schedule: str, imported: str) -> None:
    root = write_tree(tmp_path / "site" / "shop", {"__init__.py": "", **TREE})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    if imported == "before":
        deps = importlib.import_module("shop.routes.items.deps")
        layout = importlib.import_module("shop.routes.admin._layout")
    app = fastapi_route.create_app(root, source="scan", schedule=schedule)  # type: ignore[arg-type]
    if imported == "after":
        deps = importlib.import_module("shop.routes.items.deps")
        layout = importlib.import_module("shop.routes.admin._layout")
    check_overrides(app, deps, layout)


@pytest.mark.usefixtures("forget_names")
def test_a_package_also_on_the_path_by_its_folder_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests run from inside the package folder import `routes...` rather than `shop.routes...`:
    one module either way."""
    root = write_tree(tmp_path / "site" / "shop", {"__init__.py": "", **TREE})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(root))
    app = fastapi_route.create_app(root, source="scan", schedule="lazy")
    deps = importlib.import_module("routes.items.deps")
    assert deps is importlib.import_module("shop.routes.items.deps")
    check_overrides(app, deps, importlib.import_module("routes.admin._layout"))


@pytest.mark.usefixtures("forget_names")
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_file_no_import_can_name_through_the_handle(tmp_path: Path, schedule: str) -> None:
    root = write_tree(tmp_path / "api", TREE)  # not on sys.path at all
    app = fastapi_route.create_app(root, source="scan", schedule=schedule)  # type: ignore[arg-type]
    deps = fastapi_route.runtime_of(app).module("routes/users/[user_id]/deps.py")
    app.dependency_overrides[deps.current] = lambda: "fake"
    with TestClient(app) as client:
        assert client.get("/users/7").json() == "fake"
    assert importlib.reload(deps) is deps  # its folders are importable packages


@pytest.mark.usefixtures("forget_names")
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_an_included_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          schedule: str) -> None:
    root = write_tree(tmp_path / "api", TREE)
    monkeypatch.syspath_prepend(str(root))
    app = FastAPI()
    tree = fastapi_route.include(app, root, prefix="/api", source="scan",
                                 schedule=schedule)  # type: ignore[arg-type]
    from routes.items.deps import get_db  # type: ignore[import-not-found]

    users = tree.module("routes/users/[user_id]/deps.py")
    app.dependency_overrides[get_db] = lambda: {"items": ["fake"]}
    app.dependency_overrides[users.current] = lambda: "fake"
    with TestClient(app) as client:
        assert client.get("/api/items").json() == ["fake"]
        assert client.get("/api/users/1").json() == "fake"


def test_only_the_files_an_app_imports_take_the_apps_module() -> None:
    assert adoptable("routes/items/deps.py")
    assert adoptable("routes/admin/_layout.py")
    assert adoptable("models.py") and adoptable("app.py") and adoptable("lib/db.py")
    assert adoptable("lib/__init__.py") and adoptable("routes/items/__init__.py")
    for other in ("config.py", "conftest.py", "tests/helpers.py", "test_items.py",
                  "routes/items/items_test.py", "notes.txt"):
        assert not adoptable(other), other


def test_the_readmes_testing_example_passes_as_written(tmp_path: Path) -> None:
    text = section("Testing")
    blocks = text.split("```python\n")[1:]
    test_code = next(b.split("```")[0] for b in blocks if "def test_" in b)
    toml = next(b.split("```")[0] for b in text.split("```toml\n")[1:])
    root = write_tree(tmp_path / "api", {
        "routes/items/deps.py": "def get_db():\n    return {'items': ['from the database']}\n",
        "routes/items/route.py": TREE["routes/items/route.py"],
        "pyproject.toml": toml,
    })
    (root / "tests").mkdir()
    (root / "tests" / "test_items.py").write_text(test_code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


@pytest.mark.usefixtures("forget_names")
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_plain_folder_reached_by_its_own_name_too(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    schedule: str) -> None:
    """FastAPI's Testing Dependencies tutorial, its port (examples/dependency_testing) as a
    plain folder: one route imports the dependency relatively, the other by the folder's
    name (its parent on sys.path); the test imports it by its path from the folder. One
    module, one override."""
    example = Path(__file__).resolve().parents[1] / "examples" / "dependency_testing"
    root = tmp_path / "dependency_testing"
    for source in example.rglob("*.py"):
        rel = source.relative_to(example)
        if rel.parts[0] != "tests" and rel.name != "__init__.py":
            write_tree(root, {rel.as_posix(): source.read_text(encoding="utf-8")})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(root))
    app = fastapi_route.create_app(root, source="scan", schedule=schedule)  # type: ignore[arg-type]
    from dependencies import common_parameters  # type: ignore[import-not-found]

    async def fixed(q: str | None = None) -> dict[str, object]:
        return {"q": q, "skip": 5, "limit": 10}

    app.dependency_overrides[common_parameters] = fixed
    with TestClient(app) as client:
        assert client.get("/items?q=a").json()["params"] == {"q": "a", "skip": 5, "limit": 10}
        assert client.get("/users").json()["params"] == {"q": None, "skip": 5, "limit": 10}
    for name in [n for n in sys.modules if n.split(".")[0] in ("dependencies",
                                                               "dependency_testing")]:
        del sys.modules[name]


@pytest.mark.usefixtures("forget_names")
def test_a_tree_included_from_a_folder_below_the_tests_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's include layout: main.py at the repository's root includes
    services/shop; a test imports the dependency as `services.shop.routes.items.deps`,
    after the app exists (a name whose first part is a folder above the project)."""
    repo = tmp_path / "repo"
    write_tree(repo / "services" / "shop", TREE)
    write_tree(repo, {"main.py": f"""
        from fastapi import FastAPI
        import fastapi_route

        app = FastAPI()
        fastapi_route.include(app, {str(repo / "services" / "shop")!r}, prefix="/v2",
                              source="scan", schedule="lazy")
    """})
    monkeypatch.syspath_prepend(str(repo))
    main = importlib.import_module("main")
    deps = importlib.import_module("services.shop.routes.items.deps")
    main.app.dependency_overrides[deps.get_db] = lambda: {"items": ["fake"]}
    with TestClient(main.app) as client:
        assert client.get("/v2/items").json() == ["fake"]
    for name in [n for n in sys.modules if n in ("main", "services")
                 or n.startswith("services.")]:
        del sys.modules[name]


@pytest.mark.usefixtures("forget_names")
def test_helper_packages_are_one_package_and_imports_stay_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A helper package (its __init__ and its modules) is one package whoever imports it; a
    dependency defined in a package's __init__ is the route's; `importlib.reload` still
    reloads; a missing module is still an ImportError."""
    root = write_tree(tmp_path / "api", {
        "shop/__init__.py": "from .models import Settings\nfrom .state import registry\n",
        "shop/models.py": "class Settings:\n    pass\n",
        "shop/state.py": "registry: dict[str, int] = {}\n",
        "routes/items/__init__.py": "def get_db():\n    return {'items': ['real']}\n",
        "routes/items/route.py": """
            from fastapi import Depends

            from shop import Settings

            from . import get_db

            def GET(request, db=Depends(get_db)):
                return db["items"]
        """,
        "routes/items/mode.py": "MODE = 'a'\n",
    })
    monkeypatch.syspath_prepend(str(root))
    app = fastapi_route.create_app(root, source="scan", schedule="lazy")
    package = importlib.import_module("shop")
    models = importlib.import_module("shop.models")
    assert package.Settings is models.Settings
    assert importlib.import_module("shop.state").registry is package.registry
    items = importlib.import_module("routes.items")
    app.dependency_overrides[items.get_db] = lambda: {"items": ["fake"]}
    with TestClient(app) as client:
        assert client.get("/items").json() == ["fake"]
    mode = importlib.import_module("routes.items.mode")
    # another size: a bytecode cache written this second must not pass for the new source
    (root / "routes/items/mode.py").write_text("MODE = 'bb'\n", encoding="utf-8")
    assert importlib.reload(mode).MODE == "bb"
    with pytest.raises(ImportError):
        importlib.import_module("routes.items.nothing_here")
    for name in [n for n in sys.modules if n == "shop" or n.startswith("shop.")]:
        del sys.modules[name]
