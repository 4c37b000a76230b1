"""SPEC 9 parity: FastAPI's "Handling Errors" tutorial against its file-tree port.

Two ports, because the tutorial's handlers for `RequestValidationError` contradict one another:

- `examples/handling_errors/`: `HTTPException` with and without custom headers, a custom
  exception class answered 418 by its own handler, the `HTTPException` handler overridden (it
  logs, then re-uses FastAPI's), and a `RequestValidationError` handler that echoes the body;
- `examples/handling_errors/plain_text/`: both default handlers overridden with plain text.

Each is compared with the tutorial's design built here as a plain FastAPI app: the same status,
body, content type and headers for every interaction, the same handlers run (the logging one
prints), and `/openapi.json` means the same.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import app_in_mode
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.testclient import TestClient
from parity import assert_same_meaning, expected_operation_id, normal_path
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "handling_errors"
PLAIN_TEXT = EXAMPLE / "plain_text"

LOGGED = "OMG! An HTTP error!"
FOO = {"foo": "The Foo Wrestlers"}


class UnicornException(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


class Item(BaseModel):  # module-level: its name is the OpenAPI component's name
    title: str
    size: int


def original_app() -> FastAPI:
    """The tutorial's JSON design (its first, second, third, fifth and sixth steps)."""
    app = FastAPI()

    @app.exception_handler(UnicornException)
    async def unicorn_exception_handler(request: Request, exc: UnicornException) -> Response:
        return JSONResponse(
            status_code=418,
            content={"message": f"Oops! {exc.name} did something. There goes a rainbow..."},
        )

    @app.exception_handler(StarletteHTTPException)
    async def custom_http_exception_handler(
        request: Request, exc: StarletteHTTPException
    ) -> Response:
        print(f"{LOGGED}: {exc!r}")
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_exception_handler(
        request: Request, exc: RequestValidationError
    ) -> Response:
        return JSONResponse(
            status_code=422, content=jsonable_encoder({"detail": exc.errors(), "body": exc.body})
        )

    @app.get("/items/{item_id}")
    async def read_item(item_id: str):
        if item_id not in FOO:
            raise HTTPException(status_code=404, detail="Item not found")
        return {"item": FOO[item_id]}

    @app.get("/items-header/{item_id}")
    async def read_item_header(item_id: str):
        if item_id not in FOO:
            raise HTTPException(
                status_code=404,
                detail="Item not found",
                headers={"X-Error": "There goes my error"},
            )
        return {"item": FOO[item_id]}

    @app.get("/unicorns/{name}")
    async def read_unicorn(name: str):
        if name == "yolo":
            raise UnicornException(name=name)
        return {"unicorn_name": name}

    @app.post("/items/")
    async def create_item(item: Item):
        return item

    return app


def original_plain_text_app() -> FastAPI:
    """The tutorial's fourth step: both default handlers answer in plain text."""
    app = FastAPI()

    @app.exception_handler(StarletteHTTPException)
    async def plain_http_exception_handler(
        request: Request, exc: StarletteHTTPException
    ) -> Response:
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def plain_validation_exception_handler(
        request: Request, exc: RequestValidationError
    ) -> Response:
        message = "Validation errors:"
        for error in exc.errors():
            message += f"\nField: {error['loc']}, Error: {error['msg']}"
        return PlainTextResponse(message, status_code=400)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int):
        if item_id == 3:
            raise HTTPException(status_code=418, detail="Nope! I don't like 3.")
        return {"item_id": item_id}

    return app


MODES = ["eager", "lazy", "cache-lazy"]  # see conftest.app_in_mode


def port_app(example: Path, root: Path, mode: str) -> FastAPI:
    """The example, copied to `root` (without the plain_text project inside it)."""
    shutil.copytree(
        example, root, ignore=shutil.ignore_patterns("__pycache__", ".cache", "plain_text")
    )
    return app_in_mode(root, mode)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def original() -> Iterator[TestClient]:
    with TestClient(original_app()) as client:
        yield client


@pytest.fixture(scope="module")
def plain_original() -> Iterator[TestClient]:
    with TestClient(original_plain_text_app()) as client:
        yield client


@pytest.fixture(scope="module", params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def ported(mode: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp(f"errors-{mode}") / "handling_errors"
    with TestClient(port_app(EXAMPLE, root, mode)) as client:
        yield client


@pytest.fixture(scope="module")
def plain_ported(mode: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp(f"plain-{mode}") / "plain_text"
    with TestClient(port_app(PLAIN_TEXT, root, mode)) as client:
        yield client


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: str
    status: int
    body: Any  # a str: the plain-text body; anything else: the JSON body
    headers: dict[str, str] = field(default_factory=dict)  # expected among the response's
    logged: bool = False  # the overridden HTTPException handler ran (it prints)
    json: Any = None  # the request's JSON body


NOT_AN_INT = "Input should be a valid integer, unable to parse string as an integer"

CASES = [
    Case("item", "GET", "/items/foo", 200, {"item": "The Foo Wrestlers"}),
    Case("item-missing", "GET", "/items/bar", 404, {"detail": "Item not found"}, logged=True),
    Case("header-item", "GET", "/items-header/foo", 200, {"item": "The Foo Wrestlers"}),
    Case("header-item-missing", "GET", "/items-header/bar", 404, {"detail": "Item not found"},
         {"x-error": "There goes my error"}, logged=True),
    Case("unicorn", "GET", "/unicorns/shinny", 200, {"unicorn_name": "shinny"}),
    Case("unicorn-yolo", "GET", "/unicorns/yolo", 418,
         {"message": "Oops! yolo did something. There goes a rainbow..."}),
    Case("create", "POST", "/items/", 200, {"title": "towel", "size": 3},
         json={"title": "towel", "size": 3}),
    Case("create-invalid", "POST", "/items/", 422,
         {"detail": [{"type": "int_parsing", "loc": ["body", "size"], "msg": NOT_AN_INT,
                      "input": "XL"}],
          "body": {"title": "towel", "size": "XL"}},
         json={"title": "towel", "size": "XL"}),
    # FastAPI raises HTTPException for a path or a method no route serves: the override runs.
    Case("unknown-path", "GET", "/nowhere", 404, {"detail": "Not Found"}, logged=True),
    Case("wrong-method", "DELETE", "/items/foo", 405, {"detail": "Method Not Allowed"},
         logged=True),
]

PLAIN_CASES = [
    Case("item", "GET", "/items/2", 200, {"item_id": 2}),
    Case("item-3", "GET", "/items/3", 418, "Nope! I don't like 3."),
    Case("not-an-int", "GET", "/items/foo", 400,
         f"Validation errors:\nField: ('path', 'item_id'), Error: {NOT_AN_INT}"),
    Case("unknown-path", "GET", "/nowhere", 404, "Not Found"),
    Case("wrong-method", "DELETE", "/items/2", 405, "Method Not Allowed"),
]


def answer(client: TestClient, case: Case, capsys: pytest.CaptureFixture[str]
           ) -> tuple[int, Any, dict[str, str], bool]:
    """Status, body (JSON, or text when the response is not JSON), the expected headers as
    sent, and whether the logging handler printed."""
    capsys.readouterr()
    response = client.request(case.method, case.url, json=case.json)
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("detail"), list):
            for error in body["detail"]:  # older FastAPI releases add pydantic's docs URL
                error.pop("url", None)
    else:
        body = response.text
    headers = {name: response.headers.get(name, "") for name in case.headers}
    return response.status_code, body, headers, LOGGED in capsys.readouterr().out


def expected(case: Case) -> tuple[int, Any, dict[str, str], bool]:
    return case.status, case.body, case.headers, case.logged


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_answers(
    original: TestClient, ported: TestClient, case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    assert answer(original, case, capsys) == expected(case), "the yardstick itself"
    assert answer(ported, case, capsys) == expected(case)


@pytest.mark.parametrize("case", PLAIN_CASES, ids=[c.name for c in PLAIN_CASES])
def test_same_answers_plain_text(
    plain_original: TestClient, plain_ported: TestClient, case: Case,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert answer(plain_original, case, capsys) == expected(case), "the yardstick itself"
    assert answer(plain_ported, case, capsys) == expected(case)


def test_openapi_means_the_same(original: TestClient, ported: TestClient) -> None:
    assert_same_meaning(original.get("/openapi.json").json(), ported.get("/openapi.json").json())


def test_openapi_means_the_same_plain_text(
    plain_original: TestClient, plain_ported: TestClient
) -> None:
    assert_same_meaning(
        plain_original.get("/openapi.json").json(), plain_ported.get("/openapi.json").json()
    )


def operation_ids(schema: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (method.upper(), normal_path(path)): operation["operationId"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


def test_operation_ids_are_spec_9s(ported: TestClient, plain_ported: TestClient) -> None:
    ids = operation_ids(ported.get("/openapi.json").json())
    assert ids == {
        ("GET", "/items/{item_id}"): "get_items_item_id",
        ("GET", "/items-header/{item_id}"): "get_items_header_item_id",
        ("GET", "/unicorns/{name}"): "get_unicorns_name",
        ("POST", "/items"): "post_items",
    }
    assert ids == {key: expected_operation_id(*key) for key in ids}
    plain = operation_ids(plain_ported.get("/openapi.json").json())
    assert plain == {("GET", "/items/{item_id}"): "get_items_item_id"}


def test_summary_and_description_from_docstring(ported: TestClient) -> None:
    create = ported.get("/openapi.json").json()["paths"]["/items"]["post"]
    assert create["summary"] == "Create an item."
    assert create["description"] == (
        "An invalid body answers 422 with the errors and the body as sent (see app.py)."
    )
