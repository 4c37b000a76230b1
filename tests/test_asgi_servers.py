"""End to end: every server the README names serves a project through `fastapi_route.asgi:app`,
with the README's command line, over real HTTP on a loopback port.

The project is a package (`shop/__init__.py`) in the server's working folder: the servers that
get FASTAPI_ROUTE_APP=shop find it by import (as an installed app), the others by its folder
(FASTAPI_ROUTE_PROJECT). A project without a build must stop each server with our message.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import write_tree
from servers import Server, poll, run_cli

pytestmark = pytest.mark.slow

APP = "fastapi_route.asgi:app"
NO_BUILD = "No valid build found. Run 'fastapi-route build' first."

SHOP = {
    "__init__.py": "",
    "models.py": "PRICE = 7\n",
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/about/route.py": """
        def GET(request):
            return {"page": "about"}
    """,
    "routes/items/[item_id]/route.py": """
        from shop.models import PRICE

        def GET(request, item_id: int):
            return {"item": item_id, "price": PRICE}
    """,
}


@dataclass(frozen=True)
class ServerCase:
    name: str
    args: tuple[str, ...]  # the README's line, with a loopback address; args[0] is a script
    by_app: bool  # FASTAPI_ROUTE_APP=shop rather than FASTAPI_ROUTE_PROJECT=<folder>
    # Whether a failed startup ends the server with a non-zero code (hypercorn exits 0).
    failure_code: bool = True
    # A line the server prints once every worker has started. granian 2.x, stopped while a
    # worker is still starting (any app that takes a moment), waits forever for that worker.
    all_started: str | None = None

    def __str__(self) -> str:
        return self.name


def gunicorn(worker: str) -> tuple[str, ...]:
    return ("gunicorn", "-k", worker, "-w", "2", "-b", "127.0.0.1:{port}", APP)


# The README's lines. Those with two workers check that each worker process builds its own
# app; uvicorn runs one process (for several, the README points to `fastapi-route run
# --workers N`; its supervisor can take seconds to give up on a worker that failed).
CASES = [
    ServerCase("uvicorn", ("uvicorn", APP, "--host", "127.0.0.1", "--port", "{port}"),
               by_app=False),
    # uvicorn-worker's class; uvicorn's own (uvicorn.workers) is deprecated since 0.30.
    ServerCase("gunicorn", gunicorn("uvicorn_worker.UvicornWorker"), by_app=False),
    ServerCase("gunicorn-uvicorn.workers", gunicorn("uvicorn.workers.UvicornWorker"),
               by_app=True),
    ServerCase("hypercorn", ("hypercorn", "-w", "2", "-b", "127.0.0.1:{port}", APP),
               by_app=True, failure_code=False),
    ServerCase("granian", ("granian", "--interface", "asgi", "--workers", "2", "--host",
                           "127.0.0.1", "--port", "{port}", APP), by_app=True,
               all_started="Started worker-2"),
]


def command(args: Sequence[str]) -> list[str]:
    """The server's own console script, as the README runs it (so the server, not `python -m`,
    decides what is on sys.path), from this interpreter's environment."""
    script = Path(sysconfig.get_path("scripts")) / args[0]
    assert script.is_file(), f"{args[0]} is not installed (pip install -e '.[test]')"
    return [str(script), *args[1:]]


def start(case: ServerCase, cwd: Path, env: dict[str, str]) -> Server:
    if "uvicorn.workers." in case.args[2] and importlib.util.find_spec("uvicorn.workers") is None:
        pytest.skip("this uvicorn release no longer ships uvicorn.workers")
    return Server(command(case.args), cwd=cwd, env=env, module=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the built `shop` project; servers run from it."""
    base = tmp_path_factory.mktemp("servers")
    write_tree(base / "shop", SHOP)
    result = run_cli(["build", "--project", str(base / "shop")], cwd=base)
    assert result.returncode == 0, result.stdout
    return base


@pytest.fixture(scope="module")
def unbuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with no .cache/."""
    return write_tree(tmp_path_factory.mktemp("unbuilt") / "shop", SHOP)


def json_of(body: bytes) -> object:
    return json.loads(body.decode())


@pytest.mark.parametrize("case", CASES, ids=str)
def test_server_serves_the_project(case: ServerCase, built: Path) -> None:
    env = {"FASTAPI_ROUTE_APP": "shop"} if case.by_app else {
        "FASTAPI_ROUTE_PROJECT": str(built / "shop")}
    with start(case, built, env) as server:
        server.wait_ready("/")
        line = case.all_started
        if line is not None:
            poll(server.output, lambda out: line in out, server=server)
        status, _, body = server.get("/")
        assert (status, json_of(body)) == (200, {"page": "home"})
        status, _, body = server.get("/about")
        assert (status, json_of(body)) == (200, {"page": "about"})
        status, _, body = server.get("/items/42")
        assert (status, json_of(body)) == (200, {"item": 42, "price": 7})
        status, _, body = server.get("/items/forty-two")
        assert status == 422
        assert json_of(body)["detail"][0]["loc"] == ["path", "item_id"]  # type: ignore[index]
        assert server.get("/no/such/page")[0] == 404
        assert server.running()


def our_frames(output: str) -> list[str]:
    """Our modules named in the tracebacks of `output`, e.g. ["asgi.py"]."""
    return re.findall(r'File "[^"]*[/\\]fastapi_route[/\\]([^"]+)", line', output)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_server_without_a_build_stops_with_the_message(case: ServerCase, unbuilt: Path) -> None:
    with start(case, unbuilt.parent, {"FASTAPI_ROUTE_PROJECT": str(unbuilt)}) as server:
        code = server.wait_exit(timeout=20)
        output = server.output()
    assert NO_BUILD in output
    # Our error is a message, never a traceback. The servers' own tracebacks are theirs:
    # hypercorn reports a lifespan failure by raising LifespanFailureError from the `send` we
    # call (and exits 0 whatever happened); gunicorn 27's arbiter can trip over its second
    # failed worker while halting.
    assert "NoBuildError" not in output
    if case.name == "hypercorn":
        assert "LifespanFailureError: Lifespan failure in startup" in output
        # the `send` is called in asgi.py, or in runtime/failure.py (a failed start)
        assert set(our_frames(output)) <= {"asgi.py", "runtime/failure.py"}, output
    else:
        assert our_frames(output) == [], output
    if case.failure_code:
        assert code != 0


def test_without_lifespan_each_request_answers_500_and_logs_why(unbuilt: Path) -> None:
    args = ("uvicorn", APP, "--lifespan", "off", "--host", "127.0.0.1", "--port", "{port}")
    with Server(command(args), cwd=unbuilt.parent, env={"FASTAPI_ROUTE_PROJECT": str(unbuilt)},
                module=False) as server:
        server.wait_ready("/")
        for path in ("/", "/items/1"):
            status, _, body = server.get(path)
            assert (status, body) == (500, b"Internal Server Error")
        assert server.running()
        assert server.output().count(NO_BUILD) >= 2  # logged for each request
        assert "Traceback" not in server.output()
