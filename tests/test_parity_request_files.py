"""SPEC 9 parity: FastAPI's "Request Files" tutorial against its port, examples/request_files.

Three projects, because the tutorial's three apps share their URLs: several files and a page
of forms (the example's own routes/), one file with a description (single/) and an optional
file (optional/). Each is rebuilt here as FastAPI has it. Files are sent as the tutorial's
forms send them (multipart); both apps answer alike, in every mode the runtime builds an app
(parity.PORT_MODES), to the URL with or without its trailing slash, and both `/openapi.json`
documents mean the same, the form fields and their descriptions included. The page's forms
are followed as a browser would: each form's action, in each app, reaches its route.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Annotated, Any

import pytest
from conftest import copy_example
from fastapi import FastAPI, File, UploadFile
from fastapi.responses import HTMLResponse
from parity import PORT_MODES, assert_same_meaning, port_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "request_files"
PROJECTS = ("main", "single", "optional")

FORMS_PAGE = """
<body>
<form action="/files/" enctype="multipart/form-data" method="post">
<input name="files" type="file" multiple>
<input type="submit">
</form>
<form action="/uploadfiles/" enctype="multipart/form-data" method="post">
<input name="files" type="file" multiple>
<input type="submit">
</form>
</body>
"""


# --- the tutorial, as FastAPI has it ----------------------------------------------------------


def original_main() -> FastAPI:
    app = FastAPI()

    @app.post("/files/")
    async def create_files(
        files: Annotated[list[bytes], File(description="Multiple files as bytes")],
    ) -> Any:
        return {"file_sizes": [len(file) for file in files]}

    @app.post("/uploadfiles/")
    async def create_upload_files(
        files: Annotated[list[UploadFile], File(description="Multiple files as UploadFile")],
    ) -> Any:
        return {"filenames": [file.filename for file in files]}

    @app.get("/")
    async def main() -> HTMLResponse:
        return HTMLResponse(content=FORMS_PAGE)

    return app


def original_single() -> FastAPI:
    app = FastAPI()

    @app.post("/files/")
    async def create_file(
        file: Annotated[bytes, File(description="A file read as bytes")],
    ) -> Any:
        return {"file_size": len(file)}

    @app.post("/uploadfile/")
    async def create_upload_file(
        file: Annotated[UploadFile, File(description="A file read as UploadFile")],
    ) -> Any:
        return {"filename": file.filename}

    return app


def original_optional() -> FastAPI:
    app = FastAPI()

    @app.post("/files/")
    async def create_file(file: Annotated[bytes | None, File()] = None) -> Any:
        return {"message": "No file sent"} if not file else {"file_size": len(file)}

    @app.post("/uploadfile/")
    async def create_upload_file(file: UploadFile | None = None) -> Any:
        if not file:
            return {"message": "No upload file sent"}
        return {"filename": file.filename}

    return app


ORIGINALS = {"main": original_main, "single": original_single, "optional": original_optional}


@pytest.fixture(scope="module", params=PROJECTS)
def original(request: pytest.FixtureRequest) -> Iterator[tuple[str, TestClient]]:
    with TestClient(ORIGINALS[request.param]()) as client:
        yield request.param, client


@pytest.fixture(scope="module", params=PORT_MODES)
def copied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[str, Path]:
    return request.param, copy_example(EXAMPLE, tmp_path_factory.mktemp(f"files-{request.param}"))


@pytest.fixture
def ported(original: tuple[str, TestClient], copied: tuple[str, Path]) -> Iterator[TestClient]:
    project, _ = original
    mode, root = copied
    with TestClient(port_app(root if project == "main" else root / project, mode)) as client:
        yield client


# --- what is sent -----------------------------------------------------------------------------

Files = list[tuple[str, tuple[str, bytes, str]]]
TEXT = ("notes.txt", b"hello\n", "text/plain")
BINARY = ("blob.bin", bytes(range(256)) * 40, "application/octet-stream")  # 10 kB
EMPTY = ("empty.txt", b"", "text/plain")


def several(field: str, *files: tuple[str, bytes, str]) -> Files:
    return [(field, f) for f in files]


# (url, files, form fields without a file)
Post = tuple[str, Files, dict[str, str]]

POSTS: dict[str, list[Post]] = {
    "main": [
        ("/files", several("files", TEXT, BINARY), {}),
        ("/files", several("files", EMPTY), {}),
        ("/files", [], {}),  # 422: the field is required
        ("/files", several("other", TEXT), {}),  # 422: the wrong field
        ("/uploadfiles", several("files", TEXT, BINARY, EMPTY), {}),
        ("/uploadfiles", [], {}),
        ("/uploadfiles", [], {"files": "not a file"}),  # 422: a field, not a file
    ],
    "single": [
        ("/files", several("file", BINARY), {}),
        ("/files", several("file", EMPTY), {}),
        ("/files", [], {}),
        ("/uploadfile", several("file", TEXT), {}),
        ("/uploadfile", [], {"file": "not a file"}),
        ("/uploadfile", [], {}),
    ],
    "optional": [
        ("/files", several("file", TEXT), {}),
        ("/files", [], {}),  # "No file sent"
        ("/files", several("file", EMPTY), {}),  # empty bytes: "No file sent" too
        ("/uploadfile", several("file", BINARY), {}),
        ("/uploadfile", [], {}),  # "No upload file sent"
    ],
}


def post(client: TestClient, url: str, files: Files, data: dict[str, str]) -> tuple[int, Any]:
    """The answer to a multipart POST; a redirect to the other spelling of the URL (with or
    without its trailing slash) is followed, as a browser follows it with a 307."""
    if files:
        response = client.post(url, files=files, data=data)
    elif data:
        response = client.post(url, data=data)
    else:  # an empty multipart form: what a browser sends without a file picked
        response = client.post(url, content=b"--x--\r\n",
                               headers={"content-type": "multipart/form-data; boundary=x"})
    body = response.json()
    if response.status_code == 422:
        for error in body["detail"]:  # older FastAPI releases add pydantic's docs URL
            error.pop("url", None)
    return response.status_code, body


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "slash"])
def test_same_answers(original: tuple[str, TestClient], ported: TestClient, slash: str) -> None:
    project, client = original
    for url, files, data in POSTS[project]:
        want = post(client, url + slash, files, data)
        assert post(ported, url + slash, files, data) == want, (url + slash, files, data)


def test_the_yardstick_reads_the_files() -> None:
    with TestClient(original_main()) as client:
        assert post(client, "/files", several("files", TEXT, BINARY), {}) == (
            200, {"file_sizes": [6, 10240]})
        assert post(client, "/uploadfiles", several("files", TEXT, EMPTY), {}) == (
            200, {"filenames": ["notes.txt", "empty.txt"]})
        status, body = post(client, "/files", [], {})
        assert status == 422 and body["detail"][0]["loc"] == ["body", "files"]
    with TestClient(original_optional()) as client:
        assert post(client, "/uploadfile", [], {}) == (200, {"message": "No upload file sent"})


class Forms(HTMLParser):
    """The forms of a page: their action, method, enctype and file inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({**attributes, "inputs": []})
        elif tag == "input" and attributes.get("type") == "file" and self.forms:
            self.forms[-1]["inputs"].append((attributes.get("name"), "multiple" in attributes))


def forms_of(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    parser = Forms()
    parser.feed(response.text)
    return parser.forms


def test_the_pages_forms_reach_the_routes(copied: tuple[str, Path]) -> None:
    """The page is the tutorial's but for its actions (`/files` where the tutorial says
    `/files/`: the route file's URL), and each form, submitted with two files, gets the
    same answer from both apps."""
    mode, root = copied
    with TestClient(original_main()) as client, TestClient(port_app(root, mode)) as ported:
        check_forms(client, ported)


def check_forms(client: TestClient, ported: TestClient) -> None:
    want, got = forms_of(client), forms_of(ported)
    assert [f["action"] for f in want] == ["/files/", "/uploadfiles/"]
    assert [f["action"] for f in got] == ["/files", "/uploadfiles"]
    for theirs, ours in zip(want, got, strict=True):
        assert {k: v for k, v in theirs.items() if k != "action"} == \
            {k: v for k, v in ours.items() if k != "action"}
        ((field, multiple),) = ours["inputs"]
        assert multiple
        sent = several(field, TEXT, BINARY)
        response = ported.post(ours["action"], files=sent, follow_redirects=False)
        assert response.status_code == 200  # no redirect on the way: the action is the URL
        assert (200, response.json()) == post(client, theirs["action"], sent, {})


def test_openapi_means_the_same(original: tuple[str, TestClient], ported: TestClient) -> None:
    project, client = original
    want = client.get("/openapi.json").json()
    got = ported.get("/openapi.json").json()
    assert_same_meaning(want, got)
    # Spelled out: the body is a multipart form whose file field has the tutorial's text.
    url = "/uploadfiles" if project == "main" else "/uploadfile"
    body = got["paths"][url]["post"]["requestBody"]
    assert list(body["content"]) == ["multipart/form-data"]
    name = body["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = got["components"]["schemas"][name]["properties"]
    field = fields["files" if project == "main" else "file"]
    described = {"main": "Multiple files as UploadFile", "single": "A file read as UploadFile",
                 "optional": None}[project]
    assert field.get("description") == described
