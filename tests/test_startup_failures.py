"""Issue 17.2: a server that cannot start says where, once, and exits non-zero.

A lifespan that raises before `yield`, an app.py or middleware.py that raises or calls
sys.exit() at import, a worker that cannot boot: `run` (one process, `--workers 2`, and a
worker that builds its own app under `--lazy`) ends with exit 1 and one message naming the
file and line; `dev` ends with exit 1 for a lifespan that raises and shows an import error as
its error page (docs/decisions.md); `uvicorn fastapi_route.asgi:app` reports the message as
`lifespan.startup.failed` and exits with uvicorn's code for a failed start (3). Never a
traceback. The in-process tests below check the messages; the slow ones real processes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import write_tree
from servers import Server, poll, run_cli
from test_asgi import call_lifespan

from fastapi_route.asgi import DeferredApp
from fastapi_route.errors import FastAPIRouteError
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app

ROUTE = """
    def GET(request):
        return {"page": "home"}
"""
LIFESPAN_RAISES = {
    "routes/index.py": ROUTE,
    "app.py": """
        from contextlib import asynccontextmanager


        @asynccontextmanager
        async def lifespan(app):
            raise RuntimeError("no database")
            yield
    """,
}
LIFESPAN_HELPER_RAISES = {
    "routes/index.py": ROUTE,
    "db.py": """
        def connect():
            raise ConnectionError("db.example is down")
    """,
    "app.py": """
        from contextlib import asynccontextmanager

        from .db import connect


        @asynccontextmanager
        async def lifespan(app):
            connect()
            yield
    """,
}
APP_RAISES = {
    "routes/index.py": ROUTE,
    "app.py": """
        import os

        raise RuntimeError("app.py exploded")
    """,
}
APP_EXITS = {
    "routes/index.py": ROUTE,
    "app.py": """
        import sys

        sys.exit(3)
    """,
}
MIDDLEWARE_RAISES = {
    "routes/index.py": ROUTE,
    "middleware.py": """
        x = 1
        raise ValueError("middleware broke")


        async def middleware(request, call_next):
            return await call_next(request)
    """,
}
# kind -> (files, "file:line" the message names, what it says)
KINDS = {
    "lifespan raises": (LIFESPAN_RAISES, "app.py:6", "RuntimeError: no database"),
    "app.py raises": (APP_RAISES, "app.py:3", "RuntimeError: app.py exploded"),
    "app.py exits": (APP_EXITS, "app.py:3", "sys.exit(3)"),
    "middleware.py raises": (MIDDLEWARE_RAISES, "middleware.py:2", "ValueError: middleware broke"),
}
IMPORT_KINDS = [kind for kind in KINDS if kind != "lifespan raises"]


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    return write_tree(tmp_path / "app", files)


# --- the messages, in-process ------------------------------------------------------------------


def test_a_lifespan_that_raises_fails_startup_with_one_located_message(tmp_path: Path) -> None:
    root = project(tmp_path, LIFESPAN_RAISES)
    app = create_app(Project(root), source="scan")
    sent = asyncio.run(call_lifespan(DeferredApp(lambda: app)))
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    message = sent[0]["message"]
    assert message.startswith("app.py:6: "), message
    assert "RuntimeError: no database" in message
    assert "hint: " in message
    assert "Traceback" not in message and "site-packages" not in message


def test_the_location_is_the_last_frame_inside_the_project(tmp_path: Path) -> None:
    root = project(tmp_path, LIFESPAN_HELPER_RAISES)
    app = create_app(Project(root), source="scan")
    sent = asyncio.run(call_lifespan(DeferredApp(lambda: app)))
    message = sent[0]["message"]
    assert message.startswith("db.py:2: "), message
    assert "ConnectionError: db.example is down" in message
    assert "app.py:8" in message  # the project's part of the traceback: who called it


@pytest.mark.parametrize("kind", IMPORT_KINDS)
def test_an_import_failure_names_the_file_and_line(tmp_path: Path, kind: str) -> None:
    files, where, what = KINDS[kind]
    root = project(tmp_path, files)
    with pytest.raises(FastAPIRouteError) as failed:
        create_app(Project(root), source="scan")
    message = str(failed.value)
    assert message.startswith(f"{where}: "), message
    assert what in message
    assert "server log" not in message  # nothing puts a traceback there


# --- real processes ----------------------------------------------------------------------------


def built(tmp_path: Path, files: dict[str, str]) -> Path:
    root = project(tmp_path, files)
    result = run_cli(["build", "--project", str(root)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout  # the build runs none of this code
    return root


RUN = ["fastapi_route", "run", "--host", "127.0.0.1", "--port", "{port}", "--project"]


def ended(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    with Server(args, cwd=cwd, env=env) as server:
        code = server.wait_exit(timeout=45)
        return code, server.output()


def assert_one_message(out: str, where: str, what: str) -> None:
    assert "Traceback" not in out, out
    assert out.count(f"{where}: ") == 1, out  # one message, naming the file and line
    assert what in out, out


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_run_that_cannot_start_exits_1_with_one_message(
    tmp_path: Path, kind: str, workers: str,
) -> None:
    files, where, what = KINDS[kind]
    root = built(tmp_path, files)
    code, out = ended([*RUN, str(root), "--workers", workers], tmp_path)
    assert code == 1, out
    assert_one_message(out, where, what)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_run_whose_workers_cannot_boot_exits_1_with_one_message(
    tmp_path: Path, kind: str,
) -> None:
    """Under --lazy with workers only the cache is checked before binding: each worker
    imports app.py itself, and fails there."""
    files, where, what = KINDS[kind]
    root = built(tmp_path, files)
    code, out = ended([*RUN, str(root), "--workers", "2", "--lazy"], tmp_path)
    assert code == 1, out
    assert_one_message(out, where, what)


@pytest.mark.slow
def test_dev_whose_lifespan_raises_exits_1_with_one_message(tmp_path: Path) -> None:
    files, where, what = KINDS["lifespan raises"]
    root = project(tmp_path, files)
    code, out = ended(["fastapi_route", "dev", "--port", "{port}", "--project", str(root)],
                      tmp_path)
    assert code == 1, out
    assert_one_message(out, where, what)


@pytest.mark.slow
@pytest.mark.parametrize("kind", IMPORT_KINDS)
def test_dev_shows_an_import_failure_as_its_error_page(tmp_path: Path, kind: str) -> None:
    files, where, what = KINDS[kind]
    root = project(tmp_path, files)
    args = ["fastapi_route", "dev", "--port", "{port}", "--project", str(root)]
    with Server(args, cwd=tmp_path) as server:
        _, _, body = poll(lambda: server.get("/"), lambda r: r[0] == 500, server=server,
                          timeout=30)
        assert where in body.decode(), body
        assert what in body.decode(), body
        assert server.running()
        out = server.output()
    assert "Traceback" not in out, out


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_uvicorn_reports_the_message_as_a_failed_startup(tmp_path: Path, kind: str) -> None:
    files, where, what = KINDS[kind]
    root = built(tmp_path, files)
    code, out = ended(["uvicorn", "fastapi_route.asgi:app", "--port", "{port}"], tmp_path,
                      env={"FASTAPI_ROUTE_PROJECT": str(root)})
    assert code == 3, out  # uvicorn's STARTUP_FAILURE: its exit code, not ours
    assert_one_message(out, where, what)
    assert "Application startup failed" in out
