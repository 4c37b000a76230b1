"""fastapi_route.asgi: the module-level `app` (built once, on its first call, then forwarding
every call) and the environment contract between `fastapi-route run`/`dev` and the workers."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner
from fastapi import FastAPI
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message
from starlette.websockets import WebSocketDisconnect

import fastapi_route.asgi as asgi
from fastapi_route.asgi import DeferredApp, export
from fastapi_route.cli import main
from fastapi_route.errors import FastAPIRouteError, NoBuildError
from fastapi_route.project import Project
from fastapi_route.runtime.failure import supervisor_from_env

NO_BUILD = "No valid build found. Run 'fastapi-route build' first."
VARIABLES = (asgi.ENV_PROJECT, asgi.ENV_APP, asgi.ENV_STRICT, asgi.ENV_SCHEDULE,
             asgi.ENV_SUPERVISOR)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable of ours from the outside; whatever a test (or export()) sets is undone."""
    for name in VARIABLES:
        monkeypatch.setenv(name, "")  # registers the old value for restoring...
        monkeypatch.delenv(name)  # ...then starts from unset


class Recorder:
    """A factory that counts its calls and builds a FastAPI app recording its lifespan."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.events: list[str] = []
        self.error = error

    def __call__(self) -> ASGIApp:
        self.calls += 1
        if self.error is not None:
            raise self.error

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
            self.events.append("startup")
            yield {"greeting": "hello"}
            self.events.append("shutdown")

        app = FastAPI(lifespan=lifespan)

        @app.get("/")
        def home() -> dict[str, int]:
            return {"calls": self.calls}

        return app


async def call_http(app: ASGIApp, path: str = "/") -> list[Message]:
    """One GET through the ASGI interface; the messages the app sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": [], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)
    return sent


async def call_lifespan(app: ASGIApp) -> list[Message]:
    """A server's lifespan startup (and shutdown, if startup completed); what the app sent."""
    events: asyncio.Queue[Message] = asyncio.Queue()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            await events.put({"type": "lifespan.shutdown"})

    await events.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    await asyncio.wait_for(app(scope, events.get, send), timeout=5)
    return sent


# --- the module ---------------------------------------------------------------------------------


def test_app_is_a_real_module_attribute() -> None:
    # hypercorn evaluates the name in the module's namespace: a module __getattr__ is not seen.
    assert isinstance(eval("app", vars(asgi)), DeferredApp)
    assert "__getattr__" not in vars(asgi)
    assert asgi.app.factory is asgi.create_from_env


def test_importing_the_module_builds_nothing() -> None:
    # A server imports the module before any call; the project is read on the first call.
    assert asgi.app._app is None
    assert asgi.app._failure is None
    recorder = Recorder()
    DeferredApp(recorder)
    assert recorder.calls == 0


# --- built once, then forwarding ----------------------------------------------------------------


def test_lifespan_builds_the_app_and_runs_its_lifespan() -> None:
    recorder = Recorder()
    app = DeferredApp(recorder)
    with TestClient(app) as client:
        assert recorder.calls == 1  # built by the lifespan startup, before any request
        assert recorder.events == ["startup"]  # the real app's lifespan ran
        assert client.get("/").json() == {"calls": 1}
        assert client.get("/").json() == {"calls": 1}
        assert client.get("/missing").status_code == 404
    assert recorder.events == ["startup", "shutdown"]
    assert recorder.calls == 1


def test_without_lifespan_the_first_request_builds_it() -> None:
    recorder = Recorder()
    app = DeferredApp(recorder)
    client = TestClient(app)  # not as a context manager: no lifespan events at all
    assert recorder.calls == 0
    assert client.get("/").json() == {"calls": 1}
    assert client.get("/").json() == {"calls": 1}
    assert recorder.calls == 1
    assert recorder.events == []


class HeldRecorder(Recorder):
    """A Recorder whose first call blocks until `release` is set: the build is in progress for
    as long as the test wants. `progress` is set when a later call arrives too, so the test
    never waits for a call that will not come."""

    def __init__(self) -> None:
        super().__init__()
        self.building = threading.Event()  # the first call is inside the factory
        self.release = threading.Event()
        self.progress = threading.Event()
        self.entered = 0
        self._counting = threading.Lock()

    def __call__(self) -> ASGIApp:
        with self._counting:
            self.entered += 1
            first = self.entered == 1
        if first:
            self.building.set()
            if not self.release.wait(10):  # bounded: a broken test fails, never hangs
                raise AssertionError("the test never released the first build")
        else:
            self.progress.set()  # a second build started while the first had not finished
        return super().__call__()


class Announcing:
    """Wraps DeferredApp's own lock (whatever it is): counts the calls that reach it, then
    takes it. Reaching it is the last thing a call does before it waits for the build, so the
    test knows a second call is parked there, not just started; the waiting is still the
    real lock's (replaced by a no-op, the second call goes straight into the factory)."""

    def __init__(self, inner: Any, arrived: Callable[[], None]) -> None:
        self.inner = inner
        self.arrived = arrived

    def __enter__(self) -> Any:
        self.arrived()
        return self.inner.__enter__()

    def __exit__(self, *exc: object) -> Any:
        return self.inner.__exit__(*exc)


def test_racing_first_calls_in_threads_build_once() -> None:
    """Servers that run one event loop per thread: while the first call is inside the
    factory, three more first calls (each in its own thread and loop) wait for it and are
    then served by the app it built; the factory runs once."""
    recorder = HeldRecorder()
    app = DeferredApp(recorder)
    assert hasattr(app, "_lock"), "DeferredApp no longer has the lock this test watches"
    others = 3
    reached = []
    counting = threading.Lock()

    def arrived() -> None:
        with counting:
            reached.append(threading.current_thread().name)
            if len(reached) == 1 + others:  # the first call's own pass, then every other's
                recorder.progress.set()

    app._lock = Announcing(app._lock, arrived)  # type: ignore[assignment]
    statuses: dict[str, int] = {}

    def serve() -> None:
        sent = asyncio.run(call_http(app))
        statuses[threading.current_thread().name] = sent[0]["status"]

    first = threading.Thread(target=serve, name="first")
    first.start()
    assert recorder.building.wait(10), "the first call never reached the factory"
    threads = [threading.Thread(target=serve, name=f"other{i}") for i in range(others)]
    for thread in threads:
        thread.start()
    # Every other call is parked at the lock, or (no lock) already inside the factory.
    progressed = recorder.progress.wait(10)
    recorder.release.set()
    for thread in [first, *threads]:
        thread.join(10)
        assert not thread.is_alive(), f"{thread.name} is still waiting"
    assert progressed, f"the other calls never reached the build: {reached}"
    assert recorder.entered == recorder.calls == 1, f"the factory ran {recorder.entered} times"
    assert statuses == {name: 200 for name in ["first", "other0", "other1", "other2"]}


# --- a failed build -----------------------------------------------------------------------------


def test_failed_build_under_lifespan_reports_startup_failed() -> None:
    recorder = Recorder(error=NoBuildError("/srv/api/.cache does not exist"))
    sent = asyncio.run(call_lifespan(DeferredApp(recorder)))
    assert len(sent) == 1
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert sent[0]["message"].startswith(NO_BUILD)
    assert "hint: fastapi-route build" in sent[0]["message"]


def test_failed_build_without_lifespan_answers_500_and_logs_once_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder(error=NoBuildError())
    app = DeferredApp(recorder)
    client = TestClient(app)
    with caplog.at_level(logging.ERROR, logger="fastapi_route"):
        for _ in range(2):
            response = client.get("/anything")
            assert response.status_code == 500
            assert response.text == "Internal Server Error"  # no server paths to the client
    assert recorder.calls == 1  # a failed build is not retried on every request
    messages = [r.getMessage() for r in caplog.records if r.name == "fastapi_route"]
    assert len(messages) == 2
    assert all(m.startswith(NO_BUILD) for m in messages)
    assert not any(r.exc_info for r in caplog.records)  # a user's mistake: no traceback


def test_failed_build_closes_a_websocket() -> None:
    client = TestClient(DeferredApp(Recorder(error=NoBuildError())))

    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
        pass
    assert closed.value.code == 1011


def test_a_crash_in_the_projects_code_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder(error=RuntimeError("boom in config.py"))
    with caplog.at_level(logging.ERROR, logger="fastapi_route"):
        sent = asyncio.run(call_lifespan(DeferredApp(recorder)))
    assert sent == [{"type": "lifespan.startup.failed",
                     "message": "the project failed to load: RuntimeError: boom in config.py"}]
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)


# --- the real factory, on a real project --------------------------------------------------------


@pytest.fixture
def built(tmp_path: Path, make_tree: Callable[..., Path]) -> Path:
    root = make_tree(tmp_path / "api", {
        "routes/index.py": """
            from pathlib import Path

            Path(__file__).with_name("imported").touch()  # shows when it was imported

            def GET(request):
                return {"page": "home"}
        """,
        "routes/items/[item_id]/route.py": """
            def GET(request, item_id: int):
                return {"item": item_id}
        """,
    })
    result = CliRunner().invoke(main, ["build", "--project", str(root)])
    assert result.exit_code == 0, result.output
    return root


def test_module_factory_serves_the_exported_project(built: Path) -> None:
    export(Project(built), strict=False)
    with TestClient(DeferredApp()) as client:
        assert client.get("/").json() == {"page": "home"}
        assert client.get("/items/3").json() == {"item": 3}
        assert client.get("/items/three").status_code == 422
        assert client.get("/nothing/here").status_code == 404


def test_module_factory_without_a_cache_fails_startup(make_tree: Callable[..., Path],
                                                       tmp_path: Path) -> None:
    root = make_tree(tmp_path / "api", {"routes/index.py": "def GET(request):\n    return {}\n"})
    export(Project(root), strict=False)
    sent = asyncio.run(call_lifespan(DeferredApp()))
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert NO_BUILD in sent[0]["message"]


# --- the environment contract -------------------------------------------------------------------


def read_env() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in VARIABLES}


def test_export_a_folder_round_trips(tmp_path: Path) -> None:
    export(Project(tmp_path), strict=True, schedule="eager", supervisor="4321:/tmp/report")
    assert read_env() == {asgi.ENV_PROJECT: str(tmp_path), asgi.ENV_APP: None,
                          asgi.ENV_STRICT: "1", asgi.ENV_SCHEDULE: "eager",
                          asgi.ENV_SUPERVISOR: "4321:/tmp/report"}
    assert asgi.strict_from_env() is True
    assert asgi.schedule_from_env() == "eager"
    assert supervisor_from_env() == (4321, "/tmp/report")


def test_export_an_installed_app_names_its_package(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(asgi.ENV_PROJECT, "/left/over")  # e.g. from the user's shell
    export(Project(tmp_path, "myapp", installed=True), strict=False, schedule="lazy")
    assert read_env() == {asgi.ENV_PROJECT: None, asgi.ENV_APP: "myapp",
                          asgi.ENV_STRICT: None, asgi.ENV_SCHEDULE: "lazy",
                          asgi.ENV_SUPERVISOR: None}
    assert asgi.strict_from_env() is False
    assert asgi.schedule_from_env() == "lazy"


def test_export_clears_flags_left_in_the_environment(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(asgi.ENV_STRICT, "1")
    monkeypatch.setenv(asgi.ENV_SCHEDULE, "lazy")
    monkeypatch.setenv(asgi.ENV_SUPERVISOR, "1")
    monkeypatch.setenv(asgi.ENV_APP, "other")
    (tmp_path / "routes").mkdir()
    export(Project(tmp_path), strict=False)
    assert read_env() == {asgi.ENV_PROJECT: str(tmp_path), asgi.ENV_APP: None,
                          asgi.ENV_STRICT: None, asgi.ENV_SCHEDULE: None,
                          asgi.ENV_SUPERVISOR: None}
    assert asgi.schedule_from_env() is None  # config.py decides
    assert supervisor_from_env() is None
    assert asgi.project_from_env().root == tmp_path.resolve()


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("YES", True), ("on", True),
    ("0", False), ("false", False), ("No", False), ("off", False), ("", False),
])
def test_flag_values(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv(asgi.ENV_STRICT, value)
    assert asgi.strict_from_env() is expected


@pytest.mark.parametrize("value", ["eager", "warm", "lazy", "LAZY", ""])
def test_schedule_values(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(asgi.ENV_SCHEDULE, value)
    assert asgi.schedule_from_env() == (value.lower() or None)


def test_a_schedule_that_is_not_one_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(asgi.ENV_SCHEDULE, "sometimes")
    with pytest.raises(FastAPIRouteError, match="FASTAPI_ROUTE_SCHEDULE='sometimes'"):
        asgi.schedule_from_env()


def test_a_flag_that_is_not_yes_or_no_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(asgi.ENV_STRICT, "sometimes")
    with pytest.raises(FastAPIRouteError, match="FASTAPI_ROUTE_STRICT='sometimes'"):
        asgi.strict_from_env()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the CLI hands uvicorn (which is not started), our variables at that moment, and
    the supervisor they name."""
    seen: dict[str, Any] = {}

    def run(target: object, **settings: Any) -> None:
        supervisor = supervisor_from_env()
        seen.update(target=target, env=read_env(), supervisor=supervisor,
                    report_exists=supervisor is not None and Path(supervisor[1]).is_file())

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep pytest's SIGTERM handler
    return seen


def test_run_with_workers_exports_what_each_worker_reads(
    built: Path, served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["run", "--project", str(built), "--workers", "2", "--lazy", "--strict"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert served["target"] == "fastapi_route.asgi:app"
    assert served["env"] == {asgi.ENV_PROJECT: str(built.resolve()), asgi.ENV_APP: None,
                             asgi.ENV_STRICT: "1", asgi.ENV_SCHEDULE: "lazy",
                             asgi.ENV_SUPERVISOR: served["env"][asgi.ENV_SUPERVISOR]}
    pid, report = served["supervisor"]
    assert pid == os.getpid() and served["report_exists"]  # where a worker reports a failure
    # Exported for the serve call only: afterwards the variables and the report are gone.
    assert read_env() == dict.fromkeys(VARIABLES)
    assert not Path(report).exists()
    # What a worker then builds: this project, lazily (a handler is imported on first use).
    for name, value in served["env"].items():
        if value is not None:
            monkeypatch.setenv(name, value)
    marker = built / "routes" / "imported"
    client = TestClient(asgi.create_from_env())
    assert not marker.exists()
    assert client.get("/").json() == {"page": "home"}
    assert marker.exists()

