"""SPEC 9 parity: FastAPI's "Lifespan Events" tutorial against its port, examples/lifespan.

The tutorial's app is rebuilt here, in a few lines, as FastAPI would have it; the port is the
file tree in examples/lifespan (copied to a temporary folder, so the repository is not written).
Both must answer alike, run the lifespan's startup before the first request and its shutdown
after the client closes, and the port's route must read the very dict its lifespan filled
(`from ...app import ml_models`: SPEC 9, "one module per file"), eagerly and lazily.
"""

from __future__ import annotations

import sys
import types
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import app_in_mode, copy_example, write_tree
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from parity import assert_same_meaning, expected_operation_id

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lifespan"
MODES = ["eager", "lazy", "cache-lazy"]  # see conftest.app_in_mode






def loaded_modules(path: Path) -> list[types.ModuleType]:
    """Every module in sys.modules that was loaded from `path`."""
    target = path.resolve()
    found = []
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() == target:
            found.append(module)
    return found


def the_module(path: Path) -> types.ModuleType:
    modules = loaded_modules(path)
    assert len(modules) == 1, f"{path.name} loaded {len(modules)} times: {modules}"
    return modules[0]


# --- the tutorial, as FastAPI has it ---------------------------------------------------------


def fake_answer_to_everything_ml_model(x: float) -> float:
    return x * 42


def original() -> tuple[FastAPI, dict[str, Callable[[float], float]]]:
    ml_models: dict[str, Callable[[float], float]] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ml_models["answer_to_everything"] = fake_answer_to_everything_ml_model
        yield
        ml_models.clear()

    app = FastAPI(lifespan=lifespan)

    @app.get("/predict")
    async def predict(x: float) -> Any:
        return {"result": ml_models["answer_to_everything"](x)}

    return app, ml_models


@pytest.fixture(params=MODES)
def port(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[FastAPI, types.ModuleType]:
    """The port's app and the module its app.py was loaded as."""
    root = copy_example(EXAMPLE, tmp_path)
    app = app_in_mode(root, request.param)
    return app, the_module(root / "app.py")


REQUESTS = ["/predict?x=2", "/predict?x=-0.5", "/predict?x=0", "/predict?x=abc", "/predict",
            "/predict?x=", "/nowhere"]


def answers(app: FastAPI) -> list[tuple[int, Any]]:
    with TestClient(app) as client:
        return [(r.status_code, r.json()) for r in map(client.get, REQUESTS)]


def test_the_port_answers_as_the_tutorial(port):
    app, _ = port
    expected = answers(original()[0])
    assert expected[0] == (200, {"result": 84.0})
    assert [status for status, _ in expected] == [200, 200, 200, 422, 422, 422, 404]
    assert answers(app) == expected


def lifecycle(app: FastAPI, ml_models: dict[str, Any]) -> list[str]:
    """What a client sees of the lifespan: the dict empty before, filled with the model from
    before the first request until the client closes, empty after."""
    seen = [f"before: {sorted(ml_models)}"]
    with TestClient(app) as client:
        model = ml_models.get("answer_to_everything")
        seen.append(f"started: {sorted(ml_models)}, model {getattr(model, '__name__', model)}")
        seen.append(f"answer: {client.get('/predict', params={'x': 2}).json()}")
        seen.append(f"serving: {sorted(ml_models)}")
    seen.append(f"after: {sorted(ml_models)}")
    return seen


def test_startup_before_the_first_request_and_shutdown_after_close(port):
    app, module = port
    expected = lifecycle(*original())
    assert expected == [
        "before: []",
        "started: ['answer_to_everything'], model fake_answer_to_everything_ml_model",
        "answer: {'result': 84.0}",
        "serving: ['answer_to_everything']",
        "after: []",
    ]
    assert lifecycle(app, module.ml_models) == expected
    # The lifespan runs again for a second client, as FastAPI's does.
    assert lifecycle(app, module.ml_models) == expected


def test_the_route_reads_the_very_dict_the_lifespan_filled(port, tmp_path):
    app, module = port
    root = tmp_path / "lifespan"
    with TestClient(app) as client:
        assert module.ml_models["answer_to_everything"] is module.fake_answer_to_everything_ml_model
        assert client.get("/predict", params={"x": 1}).json() == {"result": 42.0}
        # One module per file: the route module's ml_models is app.py's, not a copy's ...
        route = the_module(root / "routes" / "predict" / "route.py")
        assert route.ml_models is module.ml_models
        assert the_module(root / "app.py") is module
        # ... so what is put in app.py's dict is what the route calls.
        module.ml_models["answer_to_everything"] = lambda x: f"swapped {x}"
        assert client.get("/predict", params={"x": 1}).json() == {"result": "swapped 1.0"}


def test_openapi_has_the_tutorials_parameters_and_readable_names(port):
    app, _ = port
    with TestClient(original()[0]) as client:
        want = client.get("/openapi.json").json()
    with TestClient(app) as client:
        got = client.get("/openapi.json").json()
    assert_same_meaning(want, got)
    operation = got["paths"]["/predict"]["get"]
    # SPEC 9: operationId from the method and the URL words; no docstring, so the summary is
    # the method and the URL template.
    assert operation["operationId"] == expected_operation_id("GET", "/predict") == "get_predict"
    assert operation["summary"] == "GET /predict"


# --- beyond the tutorial: ordering, lifespan state and a failing startup, as FastAPI does ---


LOG_TREE = {
    "app.py": """
        from contextlib import asynccontextmanager

        events = []


        @asynccontextmanager
        async def lifespan(app):
            events.append("startup")
            yield {"greeting": "hello"}
            events.append("shutdown")
    """,
    "routes/hello/route.py": """
        from ...app import events


        def GET(request):
            events.append("request")
            return {"greeting": request.state.greeting}
    """,
}


def original_log_app() -> tuple[FastAPI, list[str]]:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"greeting": "hello"}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/hello")
    def hello(request: Request) -> Any:
        events.append("request")
        return {"greeting": request.state.greeting}

    return app, events


def event_log(app: FastAPI, events: list[str]) -> list[str]:
    with TestClient(app) as client:
        events.append("client open")
        events.append(str(client.get("/hello").json()))
        events.append("client closing")
    return list(events)


@pytest.mark.parametrize("mode", MODES)
def test_events_order_and_lifespan_state(mode, tmp_path):
    expected = event_log(*original_log_app())
    assert expected == ["startup", "client open", "request", "{'greeting': 'hello'}",
                        "client closing", "shutdown"]
    root = write_tree(tmp_path / "log", LOG_TREE)
    app = app_in_mode(root, mode)
    assert event_log(app, the_module(root / "app.py").events) == expected


class ModelMissing(RuntimeError):
    pass


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_startup_fails_as_in_fastapi(mode, tmp_path):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise ModelMissing("no model file")
        yield

    with pytest.raises(ModelMissing, match="no model file"), TestClient(FastAPI(lifespan=lifespan)):
        pass  # pragma: no cover

    root = write_tree(tmp_path / "broken", {
        "app.py": """
            from contextlib import asynccontextmanager


            class ModelMissing(RuntimeError):
                pass


            @asynccontextmanager
            async def lifespan(app):
                raise ModelMissing("no model file")
                yield
        """,
        "routes/index.py": "def GET(request):\n    return {}\n",
    })
    app = app_in_mode(root, mode)
    with pytest.raises(RuntimeError, match="no model file") as caught, TestClient(app):
        pass  # pragma: no cover
    assert type(caught.value).__name__ == "ModelMissing"
