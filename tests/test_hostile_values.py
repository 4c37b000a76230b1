"""Hostile values in typed segments (issue 17.6): an `[id=int]` segment of more digits than
Python reads (`sys.get_int_max_str_digits()`, 4,300 by default) and a `[x=float]` segment too
large for a finite float do not match their segment, in HTTP, websockets and `explain`, under
every schedule, with and without the dispatcher: a 404, or the sibling `[slug]` route, never
a 500 from Starlette's convertor (which used to raise `ValueError` inside routing) and never
`inf` handed to a handler. The real-server version is in `test_hostile_requests.py`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import write_tree
from fastapi.testclient import TestClient
from starlette.convertors import CONVERTOR_TYPES, FloatConvertor, IntegerConvertor
from starlette.websockets import WebSocketDisconnect

from fastapi_route.cli import main
from fastapi_route.explain import explain, render
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app
from fastapi_route.runtime.ondemand import SCHEDULES

LIMIT = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
needs_limit = pytest.mark.skipif(LIMIT == 0, reason="this Python reads ints of any length")

TREE = {
    "routes/items/[id=int]/route.py": """
        def GET(request, id):
            return {"route": "int", "digits": len(str(id))}
    """,
    "routes/items/[slug]/route.py": """
        def GET(request, slug):
            return {"route": "slug", "length": len(slug)}
    """,
    "routes/only/[id=int]/route.py": """
        def GET(request, id):
            return {"route": "only", "digits": len(str(id))}
    """,
    "routes/prices/[x=float]/route.py": """
        import math

        def GET(request, x):
            return {"route": "float", "finite": math.isfinite(x)}
    """,
    "routes/prices/[name]/route.py": """
        def GET(request, name):
            return {"route": "name", "length": len(name)}
    """,
    "routes/ws/[id=int]/route.py": """
        async def WEBSOCKET(websocket, id):
            await websocket.accept()
            await websocket.send_json({"digits": len(str(id))})
            await websocket.close()
    """,
}

TOO_LONG = "1" * (LIMIT + 1)
ZEROS = "0" * (LIMIT + 1)  # leading zeros count: int() refuses these too
AT_LIMIT = "9" * LIMIT
HUGE_FLOAT = "1" * 309  # float() of it is inf
HUGE_FLOAT_WITH_FRACTION = "9" * 400 + ".5"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("values") / "app", TREE)


def client(root: Path, schedule: str, dispatch: bool) -> TestClient:
    app = create_app(Project(root), source="scan", schedule=schedule,  # type: ignore[arg-type]
                     dispatch=dispatch)
    return TestClient(app, raise_server_exceptions=False)


SERVED = [(s, d) for s in SCHEDULES for d in (True, False)]


@needs_limit
@pytest.mark.parametrize(("schedule", "dispatch"), SERVED)
def test_an_int_python_cannot_read_does_not_match(root: Path, schedule: str,
                                                  dispatch: bool) -> None:
    with client(root, schedule, dispatch) as c:
        for value in (TOO_LONG, ZEROS):
            response = c.get("/items/" + value)  # falls to the sibling [slug]
            assert response.status_code == 200, response.text[:200]
            assert response.json() == {"route": "slug", "length": len(value)}
            response = c.get("/only/" + value)  # nothing else: 404
            assert response.status_code == 404, response.text[:200]
        response = c.get("/items/" + AT_LIMIT)  # the longest int Python reads still matches
        assert response.json() == {"route": "int", "digits": LIMIT}
        assert c.get("/items/7").json() == {"route": "int", "digits": 1}


@pytest.mark.parametrize(("schedule", "dispatch"), SERVED)
def test_a_float_too_large_to_be_finite_does_not_match(root: Path, schedule: str,
                                                       dispatch: bool) -> None:
    with client(root, schedule, dispatch) as c:
        for value in (HUGE_FLOAT, HUGE_FLOAT_WITH_FRACTION):
            response = c.get("/prices/" + value)
            assert response.status_code == 200, response.text[:200]
            assert response.json() == {"route": "name", "length": len(value)}
        # Below 1e308 every decimal is a finite float: matched, leading zeros and all.
        for value in ("9" * 308 + ".25", "0" * 500 + "1" * 308, "1.5", "0"):
            assert c.get("/prices/" + value).json() == {"route": "float", "finite": True}


@needs_limit
@pytest.mark.parametrize(("schedule", "dispatch"), SERVED)
def test_a_websocket_handshake_with_a_hostile_int_is_refused(root: Path, schedule: str,
                                                             dispatch: bool) -> None:
    with client(root, schedule, dispatch) as c:
        with c.websocket_connect("/ws/" + AT_LIMIT) as ws:
            assert ws.receive_json() == {"digits": LIMIT}
        with pytest.raises(WebSocketDisconnect) as refused, c.websocket_connect(
            "/ws/" + TOO_LONG
        ):
            pass
        assert refused.value.code == 1000  # no route: refused at the handshake (403)


@needs_limit
@pytest.mark.parametrize("dispatch", [True, False])
def test_explain_says_the_sibling_answers(root: Path, dispatch: bool) -> None:
    app = create_app(Project(root), source="scan", schedule="lazy", dispatch=dispatch)
    e = explain(root, "GET", "/items/" + TOO_LONG, app=app)
    assert e.outcome == "route" and e.route is not None
    assert e.route.file == "routes/items/[slug]/route.py"
    assert e.losers == []
    e = explain(root, "GET", "/only/" + ZEROS, app=app)
    assert (e.outcome, e.status) == ("not_found", 404)
    e = explain(root, "WS", "/ws/" + TOO_LONG, app=app)
    assert (e.outcome, e.status) == ("websocket_refused", 403)
    e = explain(root, "GET", "/prices/" + HUGE_FLOAT, app=app)
    assert e.route is not None and e.route.file == "routes/prices/[name]/route.py"
    e = explain(root, "GET", "/items/" + AT_LIMIT, app=app)
    assert e.route is not None and e.route.file == "routes/items/[id=int]/route.py"
    assert "Traceback" not in render(e)


@needs_limit
def test_explain_cli_has_no_traceback(root: Path) -> None:
    result = CliRunner().invoke(main, ["explain", "--scan", "--project", str(root), "GET",
                                       "/only/" + TOO_LONG])
    assert result.exit_code == 0, result.output[-500:]
    assert result.exception is None and "404 Not Found" in result.output


@pytest.fixture
def int_limit() -> Iterator[Any]:
    """Set the interpreter's limit for one test (restored after it)."""
    if LIMIT == 0:
        pytest.skip("this Python has no limit to set")
    yield sys.set_int_max_str_digits
    sys.set_int_max_str_digits(LIMIT)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_the_bound_is_the_interpreters_limit_when_the_route_is_made(
    root: Path, int_limit: Any, schedule: str
) -> None:
    int_limit(640)  # the lowest limit Python allows
    with client(root, schedule, True) as c:
        assert c.get("/items/" + "1" * 640).json() == {"route": "int", "digits": 640}
        assert c.get("/items/" + "1" * 641).json() == {"route": "slug", "length": 641}
    int_limit(0)  # no limit: any number of digits is an int
    with client(root, schedule, True) as c:
        assert c.get("/items/" + TOO_LONG).json() == {"route": "int", "digits": LIMIT + 1}


def test_starlettes_own_convertors_are_left_as_they_are(root: Path) -> None:
    with client(root, "eager", True) as c:
        assert c.get("/items/7").status_code == 200
    assert type(CONVERTOR_TYPES["int"]) is IntegerConvertor
    assert type(CONVERTOR_TYPES["float"]) is FloatConvertor
    assert CONVERTOR_TYPES["int"].regex == "[0-9]+"
    assert CONVERTOR_TYPES["float"].regex == r"[0-9]+(\.[0-9]+)?"


def test_what_users_see_of_the_template_is_unchanged(root: Path) -> None:
    app = create_app(Project(root), source="scan", schedule="eager")
    paths = {getattr(r, "path", "") for r in app.router.routes}
    assert {"/items/{id:int}", "/prices/{x:float}", "/ws/{id:int}"} <= paths
    assert "/items/{id}" in app.openapi()["paths"]
    assert app.url_path_for("websocket /ws/{id:int}", id=5) == "/ws/5"
