"""`fastapi_route.aws.handler` (SPEC 14.3): Lambda events in, Lambda responses out.

Every test calls the handler in a fresh interpreter, as Lambda does for a cold instance, on a
project built by the CLI and named by FASTAPI_ROUTE_PROJECT. The events are API Gateway REST
(payload 1.0), HTTP API (payload 2.0) and ALB payloads (tests/aws_events/*.json, shaped as AWS
delivers them); `event()` sets the request line, the headers and the body of a copy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from servers import child_env, run_cli

pytest.importorskip("mangum")

EVENTS = Path(__file__).parent / "aws_events"
KINDS = ("rest_v1", "http_v2", "alb")
# The smallest PNG: one transparent pixel.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
BINARY = bytes(range(256)) * 4

APP = '''
import os
from contextlib import asynccontextmanager

STARTS = []


@asynccontextmanager
async def lifespan(app):
    STARTS.append(1)
    yield {"greeting": "hello from the lifespan"}
    marker = os.environ.get("SHUTDOWN_MARKER")
    if marker:
        with open(marker, "a") as f:
            f.write("shut down\\n")
'''

PROJECT = {
    "config.py": 'app_name = "lambda"\n',
    "app.py": APP,
    "routes/items/[item_id]/route.py": '''
from typing import Optional

from fastapi import Query, Request


def GET(request: Request, item_id: int, q: Optional[str] = None,
        tag: list[str] = Query(default=[])):
    body = {"item_id": item_id, "q": q, "tag": tag, "greeting": request.state.greeting,
            "cookie": request.cookies.get("session")}
    return body, 200, {"x-item": str(item_id)}
''',
    "routes/items/route.py": '''
from fastapi import Request
from pydantic import BaseModel, Field

from fastapi_route import route


class Item(BaseModel):
    name: str
    price: float = Field(gt=0)


@route(status_code=201)
def POST(request: Request, item: Item) -> Item:
    return item
''',
    "routes/upload/route.py": '''
import hashlib

from fastapi import Request


async def POST(request: Request):
    body = await request.body()
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
            "type": request.headers.get("content-type")}
''',
    "routes/pixel/route.py": f'''
import base64

from fastapi import Request, Response


def GET(request: Request):
    return Response(base64.b64decode({base64.b64encode(PIXEL).decode()!r}),
                    media_type="image/png")
''',
    "routes/loaded/route.py": '''
import sys
from pathlib import Path

from fastapi import Request

from ...app import STARTS

ROUTES = Path(__file__).resolve().parents[1]


def GET(request: Request):
    """The route files this process imported so far, and how often the lifespan started."""
    files = sorted(
        Path(m.__file__).resolve().relative_to(ROUTES.parent).as_posix()
        for m in list(sys.modules.values())
        if getattr(m, "__file__", None) and ROUTES in Path(m.__file__).resolve().parents
    )
    return {"route_files": files, "starts": len(STARTS)}
''',
}

# Runs in the child: the events in the file argv[1] through the handler, the answers (or the
# error each raised) printed as JSON, then what argv[2] says ("sigterm": signal itself).
CHILD = '''
import json, os, signal, sys, types

events = json.load(open(sys.argv[1]))
from fastapi_route.aws import handler

context = types.SimpleNamespace(
    function_name="my-api", function_version="$LATEST", memory_limit_in_mb=512,
    aws_request_id="0f3c5b8e-1d2a-4e6f-9b7c-8a5d4e3f2a1b",
    invoked_function_arn="arn:aws:lambda:eu-central-1:123456789012:function:my-api",
    log_group_name="/aws/lambda/my-api", log_stream_name="2026/12/04/[$LATEST]abc")
answers = []
for event in events:
    try:
        answers.append(handler(event, context))
    except Exception as exc:
        answers.append({"error": type(exc).__name__, "message": str(exc)})
print(json.dumps(answers), flush=True)
if sys.argv[2:] == ["sigterm"]:
    os.kill(os.getpid(), signal.SIGTERM)
'''


def event(kind: str, method: str = "GET", path: str = "/items/42", query: str = "",
          headers: Mapping[str, str] | None = None, body: bytes | None = None) -> dict[str, Any]:
    """A copy of the `kind` fixture asking for `method path?query`, with `headers` added and
    `body` (base64-encoded, as API Gateway and ALB pass a binary body, unless it is UTF-8)."""
    e = json.loads((EVENTS / f"{kind}.json").read_text(encoding="utf-8"))
    pairs = parse_qsl(query)
    single = {k: v for k, v in pairs} or None
    text, binary = None, False
    if body is not None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, binary = base64.b64encode(body).decode(), True
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if kind == "rest_v1":
        multi: dict[str, list[str]] = {}
        for k, v in pairs:
            multi.setdefault(k, []).append(v)
        e.update(path=path, httpMethod=method, queryStringParameters=single,
                 multiValueQueryStringParameters=multi or None,
                 pathParameters={"proxy": path.lstrip("/")})
        e["requestContext"].update(httpMethod=method, path=f"/prod{path}")
        for k, v in headers.items():
            e["headers"][k] = v
            e["multiValueHeaders"][k] = [v]
    elif kind == "http_v2":
        joined: dict[str, str] = {}
        for k, v in pairs:
            joined[k] = f"{joined[k]},{v}" if k in joined else v
        e.update(rawPath=path, rawQueryString=query, queryStringParameters=joined)
        if not joined:
            del e["queryStringParameters"]  # absent, not empty, without a query
        e["requestContext"]["http"].update(method=method, path=path)
        e["headers"].update(headers)
        if body is not None:
            e["headers"]["content-length"] = str(len(body))
    else:  # alb: one value per query name (the last), as without multi-value headers
        e.update(path=path, httpMethod=method, queryStringParameters=single or {})
        e["headers"].update(headers)
    # No body: REST's is null, ALB's empty, HTTP API's absent.
    e["body"] = text if text is not None else {"rest_v1": None, "alb": ""}.get(kind)
    if e["body"] is None and kind == "http_v2":
        del e["body"]
    e["isBase64Encoded"] = binary
    return e


@pytest.fixture
def built(project) -> Path:
    root: Path = project(PROJECT)
    result = run_cli(["build", "--project", str(root)], cwd=root)
    assert result.returncode == 0, result.stdout
    return root


def call(root: Path, events: list[dict[str, Any]], *, then: str = "",
         env: Mapping[str, str] | None = None, cwd: Path | None = None
         ) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """The events through `fastapi_route.aws.handler` in a fresh interpreter."""
    feed = root.parent / "events.json"
    feed.write_text(json.dumps(events), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(feed), then], cwd=cwd or root.parent,
        env=child_env({"FASTAPI_ROUTE_PROJECT": str(root), **(env or {})}),
        capture_output=True, text=True, timeout=60,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no answer (exit {proc.returncode}):\n{proc.stderr}"
    return json.loads(lines[-1]), proc


def body_of(answer: dict[str, Any]) -> Any:
    assert not answer.get("isBase64Encoded"), answer
    return json.loads(answer["body"])


@pytest.mark.parametrize("kind", KINDS)
def test_events_of_each_kind_are_served_with_the_routes_they_need(built: Path, kind: str
                                                                  ) -> None:
    fixture = json.loads((EVENTS / f"{kind}.json").read_text(encoding="utf-8"))
    json_header = {"content-type": "application/json"}
    answers, proc = call(built, [
        event(kind, path="/loaded"),
        fixture,  # GET /items/42?q=lamp&tag=a&tag=b, as captured
        event(kind, "POST", "/items", headers=json_header,
              body=b'{"name": "lamp", "price": 12.5}'),
        event(kind, "POST", "/items", headers=json_header, body=b'{"name": "lamp", "price": -1}'),
        event(kind, "POST", "/upload", headers={"content-type": "application/octet-stream"},
              body=BINARY),
        event(kind, path="/pixel"),
        event(kind, path="/items/abc"),
        event(kind, path="/nowhere"),
        event(kind, path="/loaded"),
    ])
    first, item, created, invalid, upload, pixel, not_int, missing, last = answers
    assert proc.returncode == 0, proc.stderr

    # The first event imported its own route file and no other; the lifespan started once.
    assert first["statusCode"] == 200
    assert body_of(first) == {"route_files": ["routes/loaded/route.py"], "starts": 1}

    assert item["statusCode"] == 200
    assert item["headers"]["x-item"] == "42"
    assert item["headers"]["content-type"] == "application/json"
    got = body_of(item)
    assert got["item_id"] == 42 and got["q"] == "lamp"
    # ALB without multi-value headers passes one value per query name
    assert got["tag"] == (["b"] if kind == "alb" else ["a", "b"])
    assert got["greeting"] == "hello from the lifespan"  # the lifespan's state, per request
    assert got["cookie"] == ("abc123" if kind == "http_v2" else None)

    assert created["statusCode"] == 201
    assert body_of(created) == {"name": "lamp", "price": 12.5}
    assert invalid["statusCode"] == 422
    (error,) = body_of(invalid)["detail"]
    assert error["loc"] == ["body", "price"] and error["type"] == "greater_than"

    assert upload["statusCode"] == 200  # a base64 request body arrives as its bytes
    assert body_of(upload) == {"size": len(BINARY), "type": "application/octet-stream",
                               "sha256": hashlib.sha256(BINARY).hexdigest()}
    assert pixel["statusCode"] == 200  # a binary response leaves base64-encoded
    assert pixel["isBase64Encoded"] is True
    assert pixel["headers"]["content-type"] == "image/png"
    assert base64.b64decode(pixel["body"]) == PIXEL

    assert not_int["statusCode"] == 422
    assert body_of(not_int)["detail"][0]["loc"] == ["path", "item_id"]
    assert missing["statusCode"] == 404
    assert body_of(missing) == {"detail": "Not Found"}

    assert body_of(last) == {"starts": 1, "route_files": [
        "routes/items/[item_id]/route.py", "routes/items/route.py", "routes/loaded/route.py",
        "routes/pixel/route.py", "routes/upload/route.py"]}


def test_the_schedule_comes_from_the_same_variable_as_for_servers(built: Path) -> None:
    answers, _ = call(built, [event("http_v2", path="/loaded")],
                      env={"FASTAPI_ROUTE_SCHEDULE": "eager"})
    assert len(body_of(answers[0])["route_files"]) == 5  # eager: every file at start


def test_a_stale_cache_is_refused_under_strict_and_not_checked_without(built: Path) -> None:
    added = built / "routes" / "added" / "route.py"
    added.parent.mkdir()
    added.write_text("def GET(request):\n    return {}\n", encoding="utf-8")
    answers, proc = call(built, [event("http_v2", path="/added")],
                         env={"FASTAPI_ROUTE_STRICT": "1"})
    assert answers[0]["error"] == "StartFailed"
    assert answers[0]["message"].startswith("The build cache is stale (added: "
                                            "routes/added/route.py)"), answers[0]
    # Without STRICT the deployment is taken as built: no walk of the tree, the cache's routes.
    answers, proc = call(built, [event("http_v2", path="/added"), event("http_v2", path="/pixel")])
    assert [a["statusCode"] for a in answers] == [404, 200]
    assert "stale" not in proc.stderr


def test_importing_the_handler_imports_neither_fastapi_nor_the_project(built: Path) -> None:
    code = ("import sys, fastapi_route.aws; "
            "print(sorted(m for m in ('fastapi', 'pydantic', 'app') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=built, capture_output=True,
                          text=True, env=child_env({"FASTAPI_ROUTE_PROJECT": str(built)}),
                          timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr


def test_the_lifespan_shuts_down_on_sigterm(built: Path, tmp_path: Path) -> None:
    marker = tmp_path / "shutdown.txt"
    answers, proc = call(built, [event("alb", path="/pixel")] * 2, then="sigterm",
                         env={"SHUTDOWN_MARKER": str(marker)})
    assert [a["statusCode"] for a in answers] == [200, 200]
    assert marker.read_text() == "shut down\n"  # once, though two events were served
    assert proc.returncode == -signal.SIGTERM  # then the process ends as SIGTERM ends it
    assert "Traceback" not in proc.stderr, proc.stderr


def test_the_lifespan_shuts_down_at_a_normal_exit(built: Path, tmp_path: Path) -> None:
    marker = tmp_path / "shutdown.txt"
    _, proc = call(built, [event("rest_v1", path="/pixel")], env={"SHUTDOWN_MARKER": str(marker)})
    assert proc.returncode == 0 and marker.read_text() == "shut down\n"
    assert proc.stderr == ""


@pytest.mark.parametrize("damage", ["no build", "tampered"])
def test_without_a_valid_build_every_event_fails_with_the_message(project, damage: str) -> None:
    root: Path = project(PROJECT)
    if damage == "tampered":
        assert run_cli(["build", "--project", str(root)], cwd=root).returncode == 0
        data = root / ".cache" / "routes.dat"
        data.write_bytes(data.read_bytes()[:-1] + b"x")
    answers, proc = call(root, [event("http_v2", path="/pixel")] * 2)
    for answer in answers:
        assert answer["error"] == "StartFailed"
        if damage == "no build":
            assert answer["message"].startswith("No valid build found. Run 'fastapi-route "
                                                 "build' first.")
        else:
            assert "does not match the SHA-256" in answer["message"]
            assert "fastapi-route clean" in answer["message"]  # how to mend it
    assert "Traceback" not in proc.stderr, proc.stderr


def test_a_lifespan_that_raises_is_located_in_app_py(project) -> None:
    app = textwrap.dedent('''\
        from contextlib import asynccontextmanager


        @asynccontextmanager
        async def lifespan(app):
            raise RuntimeError("the database is down")
            yield
        ''')
    root: Path = project({**PROJECT, "app.py": app})
    assert run_cli(["build", "--project", str(root)], cwd=root).returncode == 0
    answers, _ = call(root, [event("rest_v1", path="/pixel")] * 2)
    for answer in answers:  # the next event starts the lifespan again, as a new instance would
        assert answer["error"] == "StartFailed"
        assert answer["message"].startswith(
            "app.py:6: app.py's lifespan failed: RuntimeError: the database is down")


def test_without_mangum_the_import_says_which_extra_to_install(tmp_path: Path) -> None:
    code = "import sys; sys.modules['mangum'] = None; import fastapi_route.aws"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env=child_env(), timeout=60)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == ("ImportError: fastapi_route.aws needs Mangum (the ASGI adapter for AWS "
                    "Lambda): pip install 'fastapi-route[aws]'")
    assert "During handling" not in proc.stderr  # one error, not a chain


def test_a_handler_of_ones_own_takes_mangums_options(built: Path) -> None:
    # A custom domain's base path mapping, /v1 -> the API: Mangum strips it from the path.
    code = ("import json, sys; from fastapi_route.aws import Handler; "
            "handler = Handler(api_gateway_base_path='/v1'); "
            "print(json.dumps(handler(json.loads(sys.argv[1]), None)))")
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(event("rest_v1", path="/v1/items/7"))],
        cwd=built.parent, capture_output=True, text=True, timeout=60,
        env=child_env({"FASTAPI_ROUTE_PROJECT": str(built)}))
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["statusCode"] == 200, proc.stderr
    assert body_of(answer)["item_id"] == 7


def test_the_lifespan_is_not_a_mangum_option() -> None:
    from fastapi_route.aws import Handler

    with pytest.raises(TypeError, match="lifespan"):
        Handler(lifespan="auto")
