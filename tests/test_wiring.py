"""Explicit wiring (issue 16, part 4): who imports whom, where an app's runtime lives, who owns
failure reporting, and that serving in-process leaves the process as it found it. Also the
fallbacks of the private framework names we still lean on."""

from __future__ import annotations

import ast
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import write_tree
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fastapi_route import asgi
from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.pipeline.build import build
from fastapi_route.project import Project
from fastapi_route.runtime import failure, routepath
from fastapi_route.runtime.app import Runtime, create_app, runtime_of
from fastapi_route.runtime.signals import handling

PACKAGE = Path(__file__).resolve().parent.parent / "fastapi_route"
SERVER_ENTRIES = {"fastapi_route.asgi", "fastapi_route.cli", "fastapi_route.serving"}

TREE = {
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
}


# --- the import graph -------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (a function's too), but those under
    `if TYPE_CHECKING:`, which never run."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (i for n in node.orelse for i in _imports(n))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (statically, wherever the import is)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = package[:len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                targets = [module, *(f"{module}.{a.name}" for a in node.names)]
            found.update(t for t in targets if t in files and t != name)
        graph[name] = found
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_the_runtime_never_reaches_up_into_a_server_entry() -> None:
    graph = import_graph()
    runtime = [m for m in graph if m.startswith("fastapi_route.runtime")]
    assert "fastapi_route.runtime.failure" in runtime
    for module in runtime:
        assert not reachable(graph, module) & SERVER_ENTRIES, module


def test_the_package_has_no_import_circle() -> None:
    graph = import_graph()
    circles = [m for m in graph if m in reachable(graph, m)]
    assert circles == []


def test_the_import_graph_sees_imports_inside_functions() -> None:
    """The circle issue 16 removed ran through an import inside a function."""
    tree = ast.parse("def f():\n    from ..asgi import x\n")
    assert [type(n).__name__ for n in _imports(tree)] == ["ImportFrom"]


# --- one runtime object per app ---------------------------------------------------------------


def test_create_app_attaches_one_runtime_under_one_name(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", TREE)
    app = create_app(Project(root), source="scan", schedule="lazy")
    runtime = runtime_of(app)
    assert isinstance(runtime, Runtime)
    assert list(app.state._state) == ["fastapi_route"]  # nothing else of ours in app.state
    assert runtime.project.root.resolve() == root.resolve()
    assert runtime.schedule == "lazy"
    assert [r.path for r in runtime.table] == ["/"]
    assert runtime.modules is runtime.file_routes.modules
    assert runtime.dispatcher is runtime.file_routes.dispatcher is not None
    assert TestClient(app).get("/").json() == {"page": "home"}


def test_runtime_of_an_app_create_app_did_not_make_says_so() -> None:
    with pytest.raises(LookupError, match="not made by fastapi_route.create_app"):
        runtime_of(FastAPI())


# --- failure reporting: owned by whoever serves -------------------------------------------------


def test_a_supervisor_owns_its_report_for_the_length_of_a_with(tmp_path: Path) -> None:
    with failure.Supervisor() as supervisor:
        pid, report = supervisor.address.split(":", 1)
        assert int(pid) == os.getpid() and Path(report) == supervisor.report
        assert supervisor.failure() is None
        # Two workers reported: the first report is the failure, hint and all.
        supervisor.report.write_text("routes/a.py:1 GET / cannot be registered\n  hint: h"
                                     "\x1e\nroutes/b.py:1 the second\x1e\n")
        assert supervisor.failure() == "routes/a.py:1 GET / cannot be registered\n  hint: h"
    assert not supervisor.report.exists()
    assert supervisor.failure() is None


def test_without_a_supervisor_stop_serving_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(failure.ENV_SUPERVISOR, raising=False)
    failure.stop_serving(RuntimeError("nobody to tell"))  # no signal, no exit
    monkeypatch.setenv(failure.ENV_SUPERVISOR, "not-a-pid:file")
    assert failure.supervisor_from_env() is None


# --- `run` in-process: serving leaves the process as it found it -------------------------------


SERVED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


def process_state() -> tuple[dict[str, str | None], dict[int, Any]]:
    return ({name: os.environ.get(name) for name in asgi.VARIABLES},
            {sig: signal.getsignal(sig) for sig in SERVED_SIGNALS})


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "app", TREE)
    build(root, load_config(root))
    return root


@pytest.fixture
def uvicorn_does(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """uvicorn.run replaced by whatever the test appends (called with what run passes)."""
    import uvicorn

    actions: list[Any] = []

    def run(target: object, **settings: Any) -> None:
        for action in actions:
            action(target, settings)

    monkeypatch.setattr(uvicorn, "run", run)
    return actions


def test_a_sigterm_ends_run_with_exit_0_and_nothing_leaks(
    built: Path, uvicorn_does: list[Any]
) -> None:
    before = process_state()
    seen: dict[str, Any] = {}

    def serve(target: object, settings: dict[str, Any]) -> None:
        seen["env"] = {name: os.environ.get(name) for name in asgi.VARIABLES}
        seen["sigterm"] = signal.getsignal(signal.SIGTERM)
        # What uvicorn does once it has drained: re-raise the SIGTERM it handled.
        signal.raise_signal(signal.SIGTERM)
        raise AssertionError("not reached: the SIGTERM stops the server")

    uvicorn_does.append(serve)
    result = CliRunner().invoke(main, ["run", "--project", str(built)])
    assert result.exit_code == 0, result.output
    assert seen["env"][asgi.ENV_PROJECT] == str(built.resolve())
    assert failure.supervisor_from_env() is None
    assert seen["sigterm"] not in before[1].values()  # run's own handler, while serving
    assert process_state() == before


def test_a_failure_reported_while_serving_ends_run_with_exit_1(
    built: Path, uvicorn_does: list[Any]
) -> None:
    before = process_state()
    reports: list[str] = []

    def serve(target: object, settings: dict[str, Any]) -> None:
        # A route FastAPI rejects, found after binding, in run's own process.
        supervisor = failure.supervisor_from_env()
        assert supervisor is not None
        reports.append(supervisor[1])
        failure.stop_serving(RuntimeError("routes/index.py:1 GET / cannot be registered"))
        raise AssertionError("not reached: stop_serving sent run a SIGTERM")

    uvicorn_does.append(serve)
    result = CliRunner().invoke(main, ["run", "--project", str(built)])
    assert result.exit_code == 1, result.output
    assert "Error: the server stopped: routes/index.py:1 GET / cannot be registered" in (
        result.output)
    assert not Path(reports[0]).exists()
    assert process_state() == before


def test_handlers_a_multi_process_server_leaves_are_put_back(
    built: Path, uvicorn_does: list[Any]
) -> None:
    before = process_state()

    def supervise_workers(target: object, settings: dict[str, Any]) -> None:
        assert target == "fastapi_route.asgi:app" and settings["workers"] == 2
        # As uvicorn's Multiprocess does: handlers of its own, never restored.
        for sig in SERVED_SIGNALS:
            signal.signal(sig, lambda signum, frame: None)

    uvicorn_does.append(supervise_workers)
    result = CliRunner().invoke(main, ["run", "--project", str(built), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert process_state() == before


def test_handling_outside_the_main_thread_changes_nothing() -> None:
    before = signal.getsignal(signal.SIGTERM)
    inside: list[Any] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        pass

    def work() -> None:
        with handling(signal.SIGTERM, handler):
            inside.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert inside == [before] and signal.getsignal(signal.SIGTERM) == before


# --- private framework names and their fallbacks ----------------------------------------------

# (path, root_path) -> the path a route matches
ROUTE_PATHS = [
    (("/users/1", ""), "/users/1"),
    (("/api/users/1", "/api"), "/users/1"),
    (("/api", "/api"), ""),
    (("/api/", "/api"), "/"),
    (("/apis/x", "/api"), "/apis/x"),  # not under /api: a prefix of letters is not a segment
    (("/other", "/api"), "/other"),
]


@pytest.mark.parametrize(("scope", "expected"), ROUTE_PATHS)
def test_the_fallback_route_path_is_starlettes_rule(scope: tuple[str, str],
                                                    expected: str) -> None:
    path, root_path = scope
    assert routepath.strip_root_path({"path": path, "root_path": root_path}) == expected
    assert routepath.strip_root_path({"path": path}) == path  # no root_path at all


@pytest.mark.parametrize(("scope", "expected"), ROUTE_PATHS[:4])
def test_the_installed_starlettes_route_path_agrees(scope: tuple[str, str],
                                                    expected: str) -> None:
    """Where Starlette's own is found, it is used: it answers as the fallback would (Starlette
    0.36 strips a root_path of letters too, which no real root_path is)."""
    path, root_path = scope
    assert routepath.get_route_path({"path": path, "root_path": root_path}) == expected


def test_without_starlettes_private_function_the_fallback_is_used(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    import starlette._utils

    assert routepath._starlettes() is starlette._utils.get_route_path
    monkeypatch.setitem(sys.modules, "starlette._utils", None)  # as if it had moved
    assert routepath._starlettes() is routepath.strip_root_path
