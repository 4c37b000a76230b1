"""End to end (issue 12, SPEC 10): a running `fastapi-route dev` takes a change under routes/
without a restart, and restarts for any other project file.

"Without a restart" is observed from outside: app.py's lifespan appends `start <pid>` and
`stop <pid>` to the file LIFESPAN_LOG names. A restart (dev re-executes itself, so the pid may
well be the same) shuts the lifespan down and starts it again: a `stop` line, then a new
`start` line. Behaviour, not seconds: every wait is bounded (~15 s), none is asserted on."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import write_tree
from servers import Response, Server, poll

pytestmark = pytest.mark.slow

WAIT = 15.0  # the bound on each wait for a change to be served

PROJECT = {
    "app.py": """
        import os
        from contextlib import asynccontextmanager
        from pathlib import Path

        VERSION = "app-1"
        LOG = Path(os.environ["LIFESPAN_LOG"])


        def _note(event):
            with LOG.open("a") as f:
                f.write(f"{event} {os.getpid()}\\n")


        @asynccontextmanager
        async def lifespan(app):
            _note("start")
            yield
            _note("stop")
    """,
    "config.py": """
        app_name = "Dev One"
    """,
    "helpers.py": """
        HELPER = "helper-1"
    """,
    "routes/index.py": """
        from ..app import VERSION
        from ..helpers import HELPER

        def GET(request):
            return {"version": 1, "app": VERSION, "helper": HELPER}
    """,
    "routes/gone/route.py": """
        def GET(request):
            return {"gone": False}
    """,
    "routes/items/[item_id]/route.py": """
        from .shared import LABEL

        def GET(request, item_id: int):
            return {"item": item_id, "label": LABEL}
    """,
    "routes/items/[item_id]/shared.py": """
        LABEL = "label-1"
    """,
}


def events(log: Path) -> list[str]:
    """The lifespan's events, in order: "start" and "stop"."""
    if not log.exists():
        return []
    return [line.split()[0] for line in log.read_text().splitlines() if line.strip()]


def body(response: Response) -> object:
    try:
        return json.loads(response[2])
    except ValueError:
        return None


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[tuple[Server, Path, Path]]:
    """A running `dev` on PROJECT whose lifespan has started once: (server, root, log). It
    writes bytecode, as on a user's machine (this machine's environment turns it off)."""
    root = write_tree(tmp_path / "app", PROJECT)
    log = tmp_path / "lifespan.log"
    args = ["fastapi_route", "dev", "--project", str(root), "--host", "127.0.0.1",
            "--port", "{port}"]
    # (an empty PYTHONDONTWRITEBYTECODE counts as unset)
    with Server(args, cwd=tmp_path,
                env={"LIFESPAN_LOG": str(log), "PYTHONDONTWRITEBYTECODE": ""}) as server:
        server.wait_ready("/")
        poll(lambda: events(log), lambda ev: ev == ["start"], server=server, timeout=WAIT)
        assert body(server.get("/")) == {"version": 1, "app": "app-1", "helper": "helper-1"}
        yield server, root, log


def served(server: Server, path: str, until: Callable[[Response], bool]) -> Response:
    return poll(lambda: server.get(path), until, server=server, timeout=WAIT)


def test_dev_takes_every_change_under_routes_without_a_restart(dev) -> None:
    server, root, log = dev

    def no_restart(step: str) -> None:
        assert events(log) == ["start"], f"{step}: the lifespan restarted\n{server.output()}"

    # A handler's body changes.
    write_tree(root, {"routes/index.py": """
        from ..app import VERSION
        from ..helpers import HELPER

        def GET(request):
            return {"version": 2, "app": VERSION, "helper": HELPER}
    """})
    served(server, "/", lambda r: r[0] == 200 and body(r) == {
        "version": 2, "app": "app-1", "helper": "helper-1"})
    no_restart("an edited handler")

    # A new route file in a brand-new folder (mkdir -p and the write at once).
    write_tree(root, {"routes/fresh/[name]/route.py": """
        def GET(request, name: str):
            return {"fresh": name}
    """})
    served(server, "/fresh/x", lambda r: r[0] == 200 and body(r) == {"fresh": "x"})
    assert "/fresh/{name}" in body(server.get("/openapi.json"))["paths"]  # type: ignore[index]
    no_restart("a new folder")

    # A helper beside a route file (inside routes/) changes: the route sees the new value.
    assert body(server.get("/items/3")) == {"item": 3, "label": "label-1"}
    write_tree(root, {"routes/items/[item_id]/shared.py": """
        LABEL = "label-2"
    """})
    served(server, "/items/3", lambda r: body(r) == {"item": 3, "label": "label-2"})
    no_restart("a helper under routes/")

    # A route is deleted: 404 afterwards.
    assert body(server.get("/gone")) == {"gone": False}
    (root / "routes" / "gone" / "route.py").unlink()
    served(server, "/gone", lambda r: r[0] == 404)
    assert "/gone" not in body(server.get("/openapi.json"))["paths"]  # type: ignore[index]
    no_restart("a deleted route")

    # A broken save: the error page, naming the file and the problem.
    write_tree(root, {"routes/fresh/[name]/route.py": """
        def GET(request, name: str):
            return {"fresh": name}

        def POST(request:
    """})
    _, headers, page = served(server, "/", lambda r: r[0] == 500)
    assert headers["content-type"].startswith("text/html")
    assert "SYNTAX_ERROR" in page.decode()
    assert "routes/fresh/[name]/route.py:4" in page.decode()
    assert server.get("/fresh/y")[0] == 500
    no_restart("a broken save")

    # Its fix: served again.
    write_tree(root, {"routes/fresh/[name]/route.py": """
        def GET(request, name: str):
            return {"fixed": name}
    """})
    served(server, "/fresh/y", lambda r: r[0] == 200 and body(r) == {"fixed": "y"})
    assert body(server.get("/"))["version"] == 2  # type: ignore[index]
    no_restart("the fix")

    # A save that parses but fails to import: that route's error page, the others serve.
    write_tree(root, {"routes/fresh/[name]/route.py": """
        import not_a_module_anywhere

        def GET(request, name: str):
            return {"fixed": name}
    """})
    _, _, page = served(server, "/fresh/z", lambda r: r[0] == 500)
    assert "routes/fresh/[name]/route.py" in page.decode()
    assert "not_a_module_anywhere" in page.decode()
    assert server.get("/")[0] == 200
    write_tree(root, {"routes/fresh/[name]/route.py": """
        def GET(request, name: str):
            return {"fixed": name}
    """})
    served(server, "/fresh/z", lambda r: r[0] == 200 and body(r) == {"fixed": "z"})
    no_restart("an import error and its fix")

    # A new _layout.py: its dependency applies to the routes below it, not to the others.
    write_tree(root, {"routes/fresh/_layout.py": """
        from fastapi import Depends, HTTPException

        def _deny():
            raise HTTPException(status_code=403, detail="the layout says no")

        dependencies = [Depends(_deny)]
    """})
    served(server, "/fresh/w", lambda r: r[0] == 403
           and body(r) == {"detail": "the layout says no"})
    assert server.get("/")[0] == 200
    no_restart("a new layout")

    # The layout edited: what it says now applies.
    write_tree(root, {"routes/fresh/_layout.py": """
        tags = ["fresh"]
    """})
    served(server, "/fresh/w", lambda r: r[0] == 200 and body(r) == {"fixed": "w"})
    no_restart("an edited layout")

    # One more edit, served: no restart was merely late.
    write_tree(root, {"routes/index.py": """
        def GET(request):
            return {"version": 3}
    """})
    served(server, "/", lambda r: body(r) == {"version": 3})
    no_restart("the last edit")
    assert server.running()


def _restart_to(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(("rel", "old", "new", "path", "seen"), [
    ("app.py", '"app-1"', '"app-2"', "/", lambda b: b["app"] == "app-2"),
    ("config.py", '"Dev One"', '"Dev Two"', "/openapi.json",
     lambda b: b["info"]["title"] == "Dev Two"),
    ("helpers.py", '"helper-1"', '"helper-2"', "/", lambda b: b["helper"] == "helper-2"),
], ids=["app.py", "config.py", "a helper outside routes"])
def test_dev_restarts_for_a_file_outside_routes(dev, rel, old, new, path, seen) -> None:
    server, root, log = dev
    assert not seen(body(server.get(path)))
    _restart_to(root, rel, old, new)
    served(server, path, lambda r: r[0] == 200 and seen(body(r)))
    # The lifespan was shut down, then started again: a real restart.
    assert events(log) == ["start", "stop", "start"], server.output()
    assert server.running()


def test_saves_of_the_same_length_within_a_second_are_each_served(dev) -> None:
    """Python trusts a .pyc while its source keeps its size and its mtime in whole seconds: a
    second save of the same length within a second must not import the first one's code."""
    server, root, log = dev
    write_tree(root, {"routes/same/route.py": "def GET(request):\n    return {'v': 0}\n"})
    served(server, "/same", lambda r: r[0] == 200 and body(r) == {"v": 0})
    for version in range(1, 6):  # each save the same length as the last, quickly
        write_tree(root, {"routes/same/route.py":
                          f"def GET(request):\n    return {{'v': {version}}}\n"})
        served(server, "/same", lambda r, v=version: r[0] == 200 and body(r) == {"v": v})
    assert events(log) == ["start"]
