"""A server process makes its first OpenAPI document in a forked child (issue 19,
`runtime/forked.py`): the server answers other requests meanwhile without the interpreter
being held by FastAPI's longest calls, and the child is a well-behaved copy (it holds none of
the server's sockets, stops with it, says nothing). Behaviour only: every wait is bounded,
none is asserted on."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.abc
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import huge_pages_collapse, write_tree
from fastapi import APIRouter
from fastapi.testclient import TestClient
from starlette.responses import JSONResponse

from fastapi_route.config import load_config
from fastapi_route.pipeline.build import build
from fastapi_route.project import Project
from fastapi_route.runtime import forked, hugepages, openapi
from fastapi_route.runtime.app import create_app, installed_in, runtime_of
from fastapi_route.runtime.ondemand import LazyRoute

pytestmark = pytest.mark.skipif(not forked.usable(), reason="forks only on Linux")

BOUND = 30.0  # seconds: a bound on any wait, never an assertion on speed
FILES = 30

TREE = {
    "routes/ping/route.py": """
        def GET(request):
            return {"pong": True}
    """,
    **{f"routes/things/t{i}/[item_id]/route.py": f"""
        from pydantic import BaseModel


        class Thing{i}(BaseModel):
            name: str
            size: int = {i}


        def GET(request, item_id: int) -> Thing{i}:
            return Thing{i}(name=str(item_id))


        async def PUT(request, item_id: int, thing: Thing{i}) -> Thing{i}:
            return thing
    """ for i in range(FILES)},
}


@pytest.fixture(autouse=True)
def _not_under_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("FASTAPI_ROUTE_SUPERVISOR", raising=False)
    monkeypatch.delenv("FASTAPI_ROUTE_SCHEDULE", raising=False)
    yield
    gc.unfreeze()  # a server app freezes what it makes: given back for the rest of the suite


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_tree(tmp_path_factory.mktemp("forked") / "app", TREE)
    build(root, load_config(root))
    return root


def server_app(root: Path, schedule: str = "warm") -> Any:
    """The app as `run` makes it (`server=True`: a process that is ours to fork)."""
    return create_app(Project(root), source="cache", schedule=schedule,  # type: ignore[arg-type]
                      server=True)


def lazy_left(app: Any) -> int:
    return sum(isinstance(r, LazyRoute) for r in app.router.routes)


def serve(app: Any, scenario: Callable[[httpx.AsyncClient], Any],
          raise_app_exceptions: bool = True, root_path: str = "") -> Any:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions,
                                        root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     timeout=BOUND) as client:
            return await asyncio.wait_for(scenario(client), BOUND)

    return asyncio.run(main())


def eager_document(root: Path) -> Any:
    app = create_app(Project(root), source="cache", schedule="eager")
    return json.loads(json.dumps(app.openapi()))


def counting_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    forks: list[int] = []
    start = forked.start

    def counted(work: Callable[[], bytes]) -> Any:
        forks.append(1)
        return start(work)

    monkeypatch.setattr(forked, "start", counted)
    return forks


def replace_openapi(app: Any, openapi: Callable[[], Any]) -> None:
    app.openapi = openapi
    runtime_of(app).file_routes.keep_openapi_complete()  # what create_app does after configure


def gone(pid: int) -> bool:
    """Whether `pid` has exited: no such process, or a zombie (an orphan whose new parent,
    in a container's PID 1, may never reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except FileNotFoundError:
        return True


def reaped(pid: int) -> None:
    """Our child `pid` is gone, not left a zombie: the server waited for it."""
    wait_until(lambda: not Path(f"/proc/{pid}").exists())


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(0.02)


# --- the server: the document comes from a child ---------------------------------------------


def test_a_server_app_serves_the_childs_document_and_never_makes_it_itself(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The document is the eager app's, byte for byte what FastAPI's endpoint answers; the
    server neither made it (no document of FastAPI's) nor made its routes real for it (the
    child did, in its copy); later requests get the same bytes without another child."""
    forks = counting_forks(monkeypatch)
    app = server_app(tree)
    assert lazy_left(app) > 0

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get("/openapi.json") for _ in range(3)]

    responses = serve(app, scenario)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[0].content == responses[1].content == responses[2].content
    assert responses[0].headers["content-type"] == "application/json"
    eager = create_app(Project(tree), source="cache", schedule="eager")
    assert responses[0].content == JSONResponse(eager.openapi()).body  # FastAPI's answer
    assert forks == [1]
    assert app.openapi_schema is None
    assert lazy_left(app) > 0
    state = installed_in(app).openapi
    assert state is not None and not state.child_failed


def test_the_heap_goes_onto_huge_pages_off_the_loop_before_the_fork(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before it forks, the server asks the kernel for huge pages (`hugepages`: a fork that
    copies fewer page tables), in a thread, not the event loop's; the document is unchanged.
    Here with no minimum: this test app is far below the size where it pays."""
    monkeypatch.setattr(hugepages, "WORTH", 0)
    calls: list[tuple[bool, int, int]] = []
    collapse = hugepages.collapse

    def recorded(**given: Any) -> int:
        moved = collapse(**given)
        calls.append((threading.current_thread() is threading.main_thread(), moved,
                      len(forks)))
        return moved

    forks = counting_forks(monkeypatch)
    monkeypatch.setattr(hugepages, "collapse", recorded)
    app = server_app(tree)
    response = serve(app, lambda client: client.get("/openapi.json"))
    assert response.json() == eager_document(tree)
    assert len(calls) == 1 and forks == [1]
    on_loop, moved, forks_before = calls[0]
    assert not on_loop, "the kernel's copying held the event loop"
    assert forks_before == 0, "asked after the fork: its page tables were copied already"
    if huge_pages_collapse():
        assert moved > 0


def fastapis_answer(root: Path, root_path: str) -> Any:
    """What FastAPI's own endpoint answers behind this root path (an app not a server's), as
    JSON: where `servers` goes among the keys when the app has none differs by version
    (FastAPI 0.110 puts it after `info`, 0.16x last)."""
    eager = create_app(Project(root), source="cache", schedule="eager")
    return TestClient(eager, root_path=root_path).get("/openapi.json").json()


def test_behind_a_proxy_the_child_puts_the_root_path_first_in_servers(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A root path (a proxy's, or FastAPI's own `root_path`) is in the child's document as
    FastAPI's endpoint puts it; one child per root path, its bytes kept."""
    forks = counting_forks(monkeypatch)
    app = server_app(tree)

    async def twice(client: httpx.AsyncClient) -> list[Any]:
        return [(await client.get("/openapi.json")).json() for _ in range(2)]

    for root_path in ("/proxy", "/proxy/"):
        assert serve(app, twice, root_path=root_path) == [fastapis_answer(tree, "/proxy")] * 2
    assert fastapis_answer(tree, "/proxy")["servers"] == [{"url": "/proxy"}]
    assert serve(app, twice) == [fastapis_answer(tree, "")] * 2
    assert forks == [1, 1]
    assert app.openapi_schema is None and lazy_left(app) > 0


def test_past_so_many_root_paths_fastapi_makes_the_document(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A root path per forged header is not a child each: past MAX_ROOT_PATHS the server
    answers as FastAPI does, the same bytes."""
    forks = counting_forks(monkeypatch)
    monkeypatch.setattr(openapi, "MAX_ROOT_PATHS", 2)
    app = server_app(tree)

    async def once(client: httpx.AsyncClient) -> Any:
        return (await client.get("/openapi.json")).json()

    for root_path in ("/a", "/b", "/c"):
        assert serve(app, once, root_path=root_path) == fastapis_answer(tree, root_path)
    assert forks == [1, 1]
    assert app.openapi_schema is not None  # the third was FastAPI's own, in the server


def test_requests_are_answered_while_the_child_makes_the_document(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The child's document waits for a file the test writes only once the server has
    answered another request meanwhile; concurrent requests share that one child."""
    forks = counting_forks(monkeypatch)
    app = server_app(tree)
    described = app.openapi
    entered, release = tmp_path / "entered", tmp_path / "release"

    def openapi() -> Any:  # runs in the child
        entered.touch()
        while not release.exists():
            time.sleep(0.01)
        return described()

    replace_openapi(app, openapi)

    async def scenario(client: httpx.AsyncClient) -> tuple[int, bool, list[Any]]:
        documents = [asyncio.create_task(client.get("/openapi.json")) for _ in range(3)]
        while not entered.exists():
            await asyncio.sleep(0.01)
        answered = (await client.get("/ping")).status_code
        pending = not any(d.done() for d in documents)
        release.touch()
        return answered, pending, [(await d).json() for d in documents]

    answered, pending, documents = serve(app, scenario)
    assert (answered, pending) == (200, True)
    assert documents[0] == documents[1] == documents[2] == eager_document(tree)
    assert forks == [1]
    assert app.openapi_schema is None, "the server made the document too"


def test_the_warm_up_waits_while_the_child_makes_every_route(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The child makes every route real in its copy: the server's warm-up leaves it the cores
    (and its pages unwritten) until the document is back, then goes on to the end."""
    app = server_app(tree)
    file_routes = runtime_of(app).file_routes
    described = app.openapi
    entered, release = tmp_path / "entered", tmp_path / "release"

    def openapi() -> Any:  # runs in the child
        entered.touch()
        while not release.exists():
            time.sleep(0.01)
        return described()

    replace_openapi(app, openapi)

    async def scenario(client: httpx.AsyncClient) -> tuple[int, int, int]:
        document = asyncio.create_task(client.get("/openapi.json"))
        while not entered.exists():
            await asyncio.sleep(0.01)
        left = lazy_left(app)
        warm_up = asyncio.create_task(file_routes.warm_up())
        await asyncio.sleep(0.3)  # many slices' worth
        left_meanwhile = lazy_left(app)
        release.touch()
        status = (await document).status_code
        await asyncio.wait_for(warm_up, BOUND)
        return left - left_meanwhile, status, lazy_left(app)

    made_meanwhile, status, left_after = serve(app, scenario)
    assert (made_meanwhile, status, left_after) == (0, 200, 0)
    assert not file_routes.held_back


def test_a_document_that_fails_answers_500_as_fastapis_would(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The child's failure is not the answer: the server makes the document its own way,
    which raises the app's error (500, logged with its traceback), and forks no more."""
    forks = counting_forks(monkeypatch)
    app = server_app(tree)

    def openapi() -> Any:
        raise RuntimeError("the document fails")

    replace_openapi(app, openapi)

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        return [(await client.get("/openapi.json")).status_code for _ in range(2)]

    assert serve(app, scenario, raise_app_exceptions=False) == [500, 500]
    assert forks == [1]


def test_a_document_the_app_already_holds_is_rendered_in_the_server(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    forks = counting_forks(monkeypatch)
    app = server_app(tree)
    held = app.openapi()  # a direct call: FastAPI keeps it

    async def scenario(client: httpx.AsyncClient) -> Any:
        return (await client.get("/openapi.json")).json()

    assert serve(app, scenario) == json.loads(json.dumps(held))
    assert forks == []


def test_no_thread_to_read_the_child_leaves_the_document_to_the_server(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fork that cannot be followed (no thread to be had: a container at its pids limit)
    leaves no child behind and no request waiting: the server makes the document."""
    pids: list[int] = []
    fork = os.fork

    def recorded() -> int:
        pid = fork()
        if pid:
            pids.append(pid)
        return pid

    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(os, "fork", recorded)
    monkeypatch.setattr(threading.Thread, "start", no_thread)
    with pytest.raises(RuntimeError, match="new thread"):
        forked.start(lambda: b"never")
    reaped(pids[0])
    monkeypatch.undo()  # the server's own thread, for its way

    app = server_app(tree)
    monkeypatch.setattr(forked, "start", lambda work: no_thread(threading.Thread()))

    async def scenario(client: httpx.AsyncClient) -> list[Any]:
        return [(await client.get("/openapi.json")).json() for _ in range(2)]

    assert serve(app, scenario) == [eager_document(tree)] * 2
    state = installed_in(app).openapi
    assert state is not None and state.child_failed


def test_a_route_that_fails_in_the_child_is_reported_by_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Under `lazy` a file is first imported by whatever makes its route: here the child. Its
    failure is not left in a copy that logs nothing: the server makes the document and says
    which route cannot be served, as it did before there was a child."""
    root = write_tree(tmp_path / "app", {
        **{k: v for k, v in TREE.items() if k.startswith("routes/ping")},
        "routes/broken/route.py": """
            raise ImportError("no such driver")

            def GET(request):
                return {}
        """,
    })
    build(root, load_config(root))
    forks = counting_forks(monkeypatch)
    app = server_app(root, schedule="lazy")

    async def scenario(client: httpx.AsyncClient) -> Any:
        return (await client.get("/openapi.json")).json()

    with caplog.at_level(logging.ERROR, logger="fastapi_route"):
        document = serve(app, scenario)
    assert forks == [1]
    assert list(document["paths"]) == ["/ping"]
    assert any("/broken" in r.getMessage() and "cannot be served" in r.getMessage()
               for r in caplog.records)
    assert runtime_of(app).file_routes.broken


def test_routes_added_after_the_start_are_in_the_next_document(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FastAPI makes its document anew for routes added later (`include_router`); so does
    the child's."""
    forks = counting_forks(monkeypatch)
    app = server_app(tree)

    async def paths(client: httpx.AsyncClient) -> list[str]:
        return list((await client.get("/openapi.json")).json()["paths"])

    assert "/later" not in serve(app, paths)
    later = APIRouter()
    later.add_api_route("/later", lambda: {}, methods=["GET"])
    app.include_router(later)
    assert "/later" in serve(app, paths)
    assert forks == [1, 1]


def test_no_copy_is_made_while_a_thread_runs_a_project_file(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sync handler importing a project file holds the modules' lock: no fork until it is
    done (the copy would wait for it for ever), and requests are answered meanwhile."""
    forks = counting_forks(monkeypatch)
    app = server_app(tree)
    lock = runtime_of(app).file_routes.modules.lock
    taken, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            taken.set()
            release.wait(BOUND)

    thread = threading.Thread(target=holder)
    thread.start()
    assert taken.wait(BOUND)

    async def scenario(client: httpx.AsyncClient) -> tuple[list[int], int, Any]:
        document = asyncio.create_task(client.get("/openapi.json"))
        answered = [(await client.get("/ping")).status_code for _ in range(5)]
        forked_meanwhile = len(forks)
        release.set()
        return answered, forked_meanwhile, (await document).json()

    try:
        answered, forked_meanwhile, document = serve(app, scenario)
    finally:
        release.set()
        thread.join(BOUND)
    assert (answered, forked_meanwhile) == ([200] * 5, 0)
    assert document == eager_document(tree) and forks == [1]


def test_the_first_asker_going_away_leaves_the_child_to_the_others(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The request that asked first is cancelled before the fork (a lock was held): the
    others still get the child's document, and the server never makes it."""
    forks = counting_forks(monkeypatch)
    app = server_app(tree)
    lock = runtime_of(app).file_routes.lock
    taken, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            taken.set()
            release.wait(BOUND)

    thread = threading.Thread(target=holder)
    thread.start()
    assert taken.wait(BOUND)

    async def scenario(client: httpx.AsyncClient) -> Any:
        first = asyncio.create_task(client.get("/openapi.json"))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(client.get("/openapi.json"))
        await asyncio.sleep(0.05)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        release.set()
        return (await second).json()

    try:
        document = serve(app, scenario)
    finally:
        release.set()
        thread.join(BOUND)
    assert document == eager_document(tree) and forks == [1]
    assert app.openapi_schema is None, "the server made the document"


def test_an_app_that_is_not_a_servers_never_forks(
    tree: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test suite's app, an included tree, `dev`: not ours to fork."""
    forks = counting_forks(monkeypatch)
    app = create_app(Project(tree), source="cache", schedule="warm")

    async def scenario(client: httpx.AsyncClient) -> int:
        return (await client.get("/openapi.json")).status_code

    assert serve(app, scenario) == 200
    assert forks == []
    assert app.openapi_schema is not None


# --- the child: a well-behaved copy ----------------------------------------------------------


def answer(work: Callable[[], bytes]) -> bytes | None:
    return forked.start(work).result(BOUND)


def test_the_child_keeps_only_the_pipe_and_stdio_and_says_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FASTAPI_ROUTE_SUPERVISOR", f"{os.getpid()}:/nowhere")
    a, b = socket.socketpair()
    try:
        def facts() -> bytes:
            return json.dumps({
                "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
                "sigterm": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
                "sigint": signal.getsignal(signal.SIGINT) == signal.SIG_DFL,
                "logging": logging.getLogger("fastapi_route").isEnabledFor(logging.CRITICAL),
                "supervisor": os.environ.get("FASTAPI_ROUTE_SUPERVISOR"),
                "gc": gc.isenabled(),
                "oom": Path("/proc/self/oom_score_adj").read_text().strip(),
            }).encode()

        got = answer(facts)
    finally:
        a.close()
        b.close()
    assert got is not None
    seen = json.loads(got)
    # stdio, the pipe, and the descriptor listdir itself had open while it read
    assert len([fd for fd in seen["fds"] if fd > 2]) <= 2
    assert a.fileno() == -1 or a.fileno() not in seen["fds"]
    assert {k: seen[k] for k in ("sigterm", "sigint", "logging", "supervisor", "gc")} == {
        "sigterm": True, "sigint": True, "logging": False, "supervisor": None, "gc": False}
    assert seen["oom"] == "1000"


def test_a_large_answer_comes_back_whole() -> None:
    big = os.urandom(3 << 20).hex().encode()  # far more than a pipe holds
    assert answer(lambda: big) == big
    assert answer(lambda: b"") == b""


def test_a_connection_the_server_closes_is_closed_while_the_child_works(
        tmp_path: Path) -> None:
    """The child holds none of the server's sockets: closing one is seen at once by its peer,
    not when the child exits."""
    server_end, client_end = socket.socketpair()
    release = tmp_path / "release"

    def work() -> bytes:
        while not release.exists():
            time.sleep(0.01)
        return b"done"

    child = forked.start(work)
    try:
        server_end.close()
        client_end.settimeout(BOUND)
        assert client_end.recv(1) == b""  # end of file, with the child still waiting
        assert not child.done()
    finally:
        release.touch()
        client_end.close()
    assert child.result(BOUND) == b"done"


def test_a_child_that_raises_or_dies_gives_none_and_is_reaped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def raises() -> bytes:
        pid_file.write_text(str(os.getpid()))
        raise RuntimeError("no document")

    def dies() -> bytes:
        pid_file.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
        return b"never"

    def half() -> bytes:  # a length that promises more than comes
        pid_file.write_text(str(os.getpid()))
        for fd in (int(name) for name in os.listdir("/proc/self/fd")):
            if fd > 2:
                with contextlib.suppress(OSError):
                    os.write(fd, forked.HEADER.pack(10) + b"abc")
        os._exit(0)

    for work in (raises, dies, half):
        assert answer(work) is None
        reaped(int(pid_file.read_text()))


def test_a_child_that_uses_no_cpu_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lock another thread held at the fork is never released in the copy: a child that
    neither works nor writes for STALLED seconds is killed, and the caller does the work."""
    monkeypatch.setattr(forked, "STALLED", 0.5)
    monkeypatch.setattr(forked, "POLL", 0.05)
    pid_file = tmp_path / "pid"

    def stuck() -> bytes:
        pid_file.write_text(str(os.getpid()))
        time.sleep(BOUND * 10)
        return b"never"

    assert answer(stuck) is None
    reaped(int(pid_file.read_text()))


class _HeldImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """One module whose import stays in progress (its module lock held) until released."""

    def __init__(self, name: str) -> None:
        self.name, self.entered, self.release = name, threading.Event(), threading.Event()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        # Found here, held in `exec_module`: a finder runs under the global import lock,
        # which a fork waits for; a module's code runs under that module's lock only.
        return importlib.util.spec_from_loader(name, self) if name == self.name else None

    def exec_module(self, module: Any) -> None:
        self.entered.set()
        self.release.wait(BOUND)
        raise ImportError(f"{self.name} held for the test")


def test_a_child_needs_no_import_another_thread_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server thread importing (the warm-up) at the fork holds a module lock that no one
    releases in the copy: the child imports nothing before its work, so it answers."""
    forked.start(lambda: b"").result(BOUND)  # what the parent looks up once is looked up
    monkeypatch.setattr(forked, "STALLED", 2.0)
    monkeypatch.setattr(forked, "POLL", 0.05)
    monkeypatch.delitem(sys.modules, "ctypes", raising=False)
    held = _HeldImport("ctypes")
    monkeypatch.setattr(sys, "meta_path", [held, *sys.meta_path])

    def importer() -> None:
        with contextlib.suppress(ImportError):
            import ctypes  # noqa: F401

    thread = threading.Thread(target=importer)
    thread.start()
    try:
        assert held.entered.wait(BOUND)
        assert answer(lambda: b"answered") == b"answered"
    finally:
        held.release.set()
        thread.join(BOUND)


def test_the_child_stops_with_the_server(tmp_path: Path) -> None:
    """A server that exits (killed, or at the end of its shutdown) takes its child with it:
    nothing keeps working, or keeps its port, after it."""
    pid_file = tmp_path / "pid"
    script = f"""
import os, sys, time
sys.path.insert(0, {str(Path(__file__).parents[1])!r})
from fastapi_route.runtime import forked

def work():
    # written whole, then renamed: the server below must never read it half-written
    with open({str(pid_file)!r} + ".part", "w") as f:
        f.write(str(os.getpid()))
    os.rename({str(pid_file)!r} + ".part", {str(pid_file)!r})
    time.sleep(600)
    return b"never"

forked.start(work)
while not os.path.exists({str(pid_file)!r}):
    time.sleep(0.01)
os._exit(0)
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=BOUND)
    pid = int(pid_file.read_text())
    wait_until(lambda: gone(pid))
