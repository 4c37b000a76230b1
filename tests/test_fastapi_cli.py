"""FastAPI's own CLI serves a project (issue 18, SPEC 12.4): `fastapi dev` and `fastapi run` in
the project's folder, through `[tool.fastapi] entrypoint = "fastapi_route.asgi:app"`.

`fastapi dev` sets FASTAPI_ENV=development for the app it serves (in every process uvicorn's
reloader starts), and `fastapi_route.asgi:app` then serves as `fastapi-route dev` does: the
tree is scanned at start, so a new route file is served after the reloader's restart, without
a build. `fastapi run` serves the cache, stale or not, as `fastapi-route run` does.
FASTAPI_ROUTE_DEV says 1 or 0 over FASTAPI_ENV, and `fastapi-route run` pins 0 for its workers.

The end-to-end tests (slow) run the `fastapi` command on a loopback port and talk HTTP to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_tree
from fastapi.testclient import TestClient
from servers import Response, Server, poll, run_cli
from starlette.types import ASGIApp, Message

from fastapi_route import asgi
from fastapi_route.asgi import DeferredApp
from fastapi_route.errors import FastAPIRouteError
from fastapi_route.project import Project

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
# The README's snippet, as a project's pyproject.toml holds it
PYPROJECT = README.split("### FastAPI CLI", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
TREE = {
    "pyproject.toml": PYPROJECT,
    "routes/index.py": "def GET(request):\n    return {'page': 'home'}\n",
}
NEW_ROUTE = "def GET(request, name: str):\n    return {'hello': name}\n"
NO_BUILD = "No valid build found. Run 'fastapi-route build' first."
# What the environment may hold from outside, that decides what the app serves.
DECIDING = ("FASTAPI_ENV", asgi.ENV_DEV, asgi.ENV_PROJECT, asgi.ENV_APP, asgi.ENV_STRICT,
            asgi.ENV_SCHEDULE)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in DECIDING:
        monkeypatch.delenv(name, raising=False)
    yield


# --------------------------------------------------------------------- which app, in-process


def test_the_readmes_snippet_names_the_entry_point() -> None:
    assert PYPROJECT == '[tool.fastapi]\nentrypoint = "fastapi_route.asgi:app"\n'


def project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "app", TREE)


@pytest.mark.parametrize(("fastapi_env", "dev"), [
    ("development", "1"), ("development", None), (None, "1")])
def test_in_development_the_tree_is_scanned_without_a_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fastapi_env: str | None,
        dev: str | None) -> None:
    root = project(tmp_path)
    monkeypatch.setenv(asgi.ENV_PROJECT, str(root))
    for name, value in (("FASTAPI_ENV", fastapi_env), (asgi.ENV_DEV, dev)):
        if value is not None:
            monkeypatch.setenv(name, value)
    with TestClient(DeferredApp()) as client:
        assert client.get("/").json() == {"page": "home"}
    assert not (root / ".cache").exists()


@pytest.mark.parametrize(("fastapi_env", "dev"), [
    (None, None), ("production", None), ("development", "0"), (None, "0")])
def test_otherwise_the_cache_is_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       fastapi_env: str | None, dev: str | None) -> None:
    monkeypatch.setenv(asgi.ENV_PROJECT, str(project(tmp_path)))
    for name, value in (("FASTAPI_ENV", fastapi_env), (asgi.ENV_DEV, dev)):
        if value is not None:
            monkeypatch.setenv(name, value)
    answer = startup(DeferredApp())
    assert answer["type"] == "lifespan.startup.failed"
    assert answer["message"].startswith(NO_BUILD)


def startup(app: ASGIApp) -> Message:
    """What `app` answers a server's lifespan startup."""
    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=10))
    return sent[0]


def test_a_broken_tree_in_development_answers_with_its_error_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "app", {**TREE, "routes/bad/route.py": "def GET(request:\n"})
    monkeypatch.setenv(asgi.ENV_PROJECT, str(root))
    monkeypatch.setenv("FASTAPI_ENV", "development")
    with TestClient(DeferredApp()) as client:  # the server keeps running
        response = client.get("/")
    assert response.status_code == 500
    assert "SYNTAX_ERROR" in response.text and "routes/bad/route.py:1" in response.text


def test_a_bogus_dev_flag_is_an_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv(asgi.ENV_DEV, "maybe")
    with pytest.raises(FastAPIRouteError, match="FASTAPI_ROUTE_DEV='maybe' is not a yes/no"):
        asgi.dev_from_env()


def test_runs_workers_serve_the_cache_whatever_fastapi_env_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A FASTAPI_ENV=development left in a shell or a .env file must not turn `fastapi-route
    run`'s workers into development servers; nor may a FASTAPI_ROUTE_DEV=1."""
    monkeypatch.setenv("FASTAPI_ENV", "development")
    assert asgi.dev_from_env() is True
    with asgi.exported(Project(project(tmp_path))):
        assert asgi.dev_from_env() is False
    assert asgi.dev_from_env() is True  # put back as it was
    monkeypatch.delenv("FASTAPI_ENV")
    monkeypatch.setenv(asgi.ENV_DEV, "1")
    with asgi.exported(Project(project(tmp_path))):
        assert asgi.ENV_DEV not in os.environ
        assert asgi.dev_from_env() is False
    assert os.environ[asgi.ENV_DEV] == "1"


# --------------------------------------------------------------------- the real CLI


def fastapi_command(*args: str) -> list[str]:
    """The `fastapi` console script of this interpreter's environment, as a user runs it."""
    script = Path(sysconfig.get_path("scripts")) / "fastapi"
    assert script.is_file(), "fastapi-cli is not installed (pip install -e '.[test]')"
    return [str(script), *args]


def start(root: Path, *args: str) -> Server:
    """`fastapi ARGS` in the project folder, on a loopback port; nothing of ours from outside."""
    return Server(fastapi_command(*args, "--host", "127.0.0.1", "--port", "{port}"), cwd=root,
                  module=False, drop_env=DECIDING)


def json_of(body: bytes) -> object:
    return json.loads(body.decode())


@pytest.mark.slow
def test_fastapi_dev_serves_a_new_route_file_without_a_build(tmp_path: Path) -> None:
    root = project(tmp_path)
    with start(root, "dev") as server:
        server.wait_ready("/")
        status, _, body = server.get("/")
        assert (status, json_of(body)) == (200, {"page": "home"})
        assert server.get("/hello/ada")[0] == 404


        def add_route() -> Response:
            # Written again until served: uvicorn's reloader starts watching only after its
            # first child is up, so a file saved in that moment would go unseen.
            write_tree(root, {"routes/hello/[name]/route.py": NEW_ROUTE})
            return server.get("/hello/ada")

        status, _, body = poll(add_route, lambda r: r[0] == 200, server=server, timeout=60,
                               interval=1.0)
        assert json_of(body) == {"hello": "ada"}
        assert "fastapi_route.asgi:app" in server.output()
        assert "stale" not in server.output()
    assert not (root / ".cache").exists()  # nothing was built


@pytest.mark.slow
def test_fastapi_run_serves_the_cache_as_fastapi_route_run_does(tmp_path: Path) -> None:
    root = project(tmp_path)
    with start(root, "run") as server:  # no build yet: our message, and the server stops
        assert server.wait_exit(timeout=30) != 0
        assert NO_BUILD in server.output()
        assert "Traceback" not in server.output()
    result = run_cli(["build"], cwd=root)
    assert result.returncode == 0, result.stdout
    write_tree(root, {"routes/hello/[name]/route.py": NEW_ROUTE})  # after the build: stale
    with start(root, "run") as server:
        server.wait_ready("/")
        status, _, body = server.get("/")
        assert (status, json_of(body)) == (200, {"page": "home"})
        assert server.get("/hello/ada")[0] == 404  # the cache's routes, not the tree's
        assert ("the build cache is stale (added: routes/hello/[name]/route.py); run "
                "'fastapi-route build'") in server.output()


@pytest.mark.slow
def test_discovery_stops_at_a_projects_app_py_as_the_readme_says(tmp_path: Path) -> None:
    """Without the entrypoint, the CLI imports app.py and finds no FastAPI object in it (app.py
    holds what one would pass to FastAPI(...)): the README's FastAPI CLI section says so."""
    root = write_tree(tmp_path / "app", {
        "routes/index.py": TREE["routes/index.py"],
        "app.py": "middleware = []\n",
    })
    with start(root, "dev") as server:
        assert server.wait_exit(timeout=30) == 1
        assert "Could not find FastAPI app in module" in server.output()
    assert "Could not find FastAPI app in module" in README
