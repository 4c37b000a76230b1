"""The trie dispatcher behaves exactly like Starlette's linear route scan.

A differential test: random route trees and random requests, each sent to the same project
served with the dispatcher and without it; status, body and headers must agree.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app, runtime_of
from fastapi_route.runtime.dispatch import Dispatcher, RouteIndex, install

STATIC = ["a", "b", "users", "me", "x.y"]
METHODS = ["GET", "POST", "PUT", "DELETE"]

HANDLER = '''
def {method}(request{params}):
    return {{"file": __file__.split("routes", 1)[1], "method": "{method}"{values}}}
'''


def url_shape(folders: list[str]) -> tuple[str, ...]:
    """What validation compares: the URL's pieces, with every parameter name left out."""
    return tuple(
        "{}" if f.startswith("[") and not f.startswith("[...") else "{...}" if f.startswith("[")
        else f
        for f in folders if not f.startswith("(")
    )


@st.composite
def trees(draw: st.DrawFn) -> dict[str, str]:
    """Valid route files over a small alphabet, so that paths overlap and precedence matters.

    Valid by construction, so that every example is compared (a tree validation refuses would
    test nothing here): a parameter is named after its URL depth, so siblings and group twins
    agree on names (no DYNAMIC_CONFLICT, no AMBIGUOUS_ROUTE); one route file per folder (no
    ROUTE_FILE_CONFLICT); a method is kept only once per URL (no DUPLICATE_ROUTE).
    """
    files: dict[str, str] = {}
    taken: set[tuple[str, tuple[str, ...]]] = set()  # (method, URL shape) already served
    for _ in range(draw(st.integers(1, 12))):
        depth = draw(st.integers(0, 3))
        folders: list[str] = []
        params: list[str] = []
        for level in range(depth):
            kind = draw(st.sampled_from(["static", "static", "param", "group", "catchall"]))
            at = len(url_shape(folders))  # the URL depth of this folder
            if kind == "static":
                folders.append(draw(st.sampled_from(STATIC)))
            elif kind == "group":
                folders.append(f"(g{level})")
            elif kind == "param":
                folders.append(f"[p{at}]")
                params.append(f"p{at}")
            else:
                folders.append(f"[...c{at}]")
                params.append(f"c{at}")
                break
        if any(rel.rsplit("/", 1)[0] == "/".join(["routes", *folders]) for rel in files):
            continue  # this folder has its route file already
        shape = url_shape(folders)
        wanted = draw(st.lists(st.sampled_from(METHODS), min_size=1, max_size=3, unique=True))
        methods = [m for m in wanted if (m, shape) not in taken]
        if not methods:
            continue
        taken.update((m, shape) for m in methods)
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
    if not files:
        files["routes/index.py"] = HANDLER.format(method="GET", params="", values="")
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
        # Else the "fast" app would be a second linear one, and agree with it by construction.
        assert isinstance(runtime_of(app).dispatcher, Dispatcher) is dispatch

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
    # Absolute, so that a path starting with "//" is a path and not a host.
    response = client.request(method, "http://testserver" + path, follow_redirects=False)
    headers = {k: v for k, v in response.headers.items() if k in ("allow", "location")}
    return response.status_code, response.text, headers


def compare(files: dict[str, str], requests: list[tuple[str, str]]) -> tuple[int, int]:
    """Send every request to both apps and assert the answers agree. Return how many requests
    were compared, and how many of them a file route answered (both apps 404ing everything
    would agree too).

    The trees are valid by construction, so a BuildFailed here is a failure, not a pass."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        _write(root, files)
        fast, linear = _apps(root)
        extra = [("GET", "/by-hand/7"), ("GET", "/by-hand/x"), ("GET", "/mounted/ping"),
                 ("GET", "/raw/readme.txt"), ("GET", "/raw/a/b.txt")]
        for url in _example_urls(files):  # every route, and its trailing-slash twin
            extra += [("GET", url), ("POST", url), ("GET", url.rstrip("/") + "/")]
        compared = served = 0
        with TestClient(fast) as a, TestClient(linear) as b:
            for method, path in [*requests, *extra]:
                answer = _answer(a, method, path)
                assert answer == _answer(b, method, path), (method, path)
                compared += 1
                served += answer[0] == 200 and '"file":"/' in str(answer[1])
        return compared, served


EXAMPLES = 60
request_lists = st.lists(st.tuples(st.sampled_from([*METHODS, "HEAD"]), request_paths),
                         min_size=1, max_size=15)


def test_dispatcher_equals_linear_scan():
    """The property, and a check at its end that its examples really compared answers."""
    seen: list[tuple[int, int]] = []  # per example: requests compared, answered by a file

    @settings(max_examples=EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(files=trees(), requests=request_lists)
    def dispatcher_equals_linear_scan(files, requests):
        compared, served = compare(files, requests)
        # The drawn requests, the five by-hand ones and three per file route.
        assert compared == len(requests) + 5 + 3 * len(files)
        seen.append((compared, served))

    dispatcher_equals_linear_scan()
    assert len(seen) >= EXAMPLES * 0.9, seen  # examples that got to compare, none skipped
    assert sum(served for _, served in seen) >= EXAMPLES * 2, seen
    assert sum(1 for _, served in seen if served) >= EXAMPLES // 2, seen


def test_candidates_are_few_in_a_large_table(tmp_path):
    files = {}
    for i in range(300):
        files[f"routes/area{i}/route.py"] = "def GET(request):\n    return {}\n"
        files[f"routes/area{i}/[item_id]/route.py"] = (
            "def GET(request, item_id: int):\n    return {'id': item_id}\n"
        )
    _write(tmp_path, files)
    app = create_app(Project(tmp_path), source="scan")
    view = runtime_of(app).dispatcher.view("/area299/5")
    assert len(view.routes) < 10  # FastAPI's own docs routes + the one file route
    assert TestClient(app).get("/area299/5").json() == {"id": 5}


class Digits(Convertor[list[str]]):
    """A user convertor whose values span segments: `1/2/3`. The trie cannot bound it."""

    regex = "[0-9]+(?:/[0-9]+)*"

    def convert(self, value: str) -> list[str]:
        return value.split("/")

    def to_string(self, value: list[str]) -> str:
        return "/".join(value)


DIGITS = "fastapi_route_test_dispatch_digits"  # unique, so no other convertor is replaced
register_url_convertor(DIGITS, Digits())


async def _digits(request: Request) -> PlainTextResponse:
    return PlainTextResponse("+".join(request.path_params["x"]))


def test_index_treats_unknown_convertors_and_mounts_as_everywhere():
    routes = [
        Route("/a/{x:path}", _digits),
        Route("/b/{x:int}", _digits),
        Route(f"/c/{{x:{DIGITS}}}", _digits),
        Mount("/m", app=FastAPI()),
        Route("/d/{x}", _digits),
    ]
    index = RouteIndex(routes)
    assert index.anywhere() == {2, 3}
    for path, expected in [("/a/deep/er", {0}), ("/b/12", {1}), ("/d/x", {4}), ("/c/1/2", set())]:
        found: set[int] = set()
        index.candidates(path, found)
        assert found == expected, path


def test_an_index_prepared_beside_a_stale_one_is_made_whole():
    """`prepare` updates only the index of the router's list as it is: an older index's keys
    are ids of routes that may be gone, and a new route with one of those ids (here given
    by hand) would be taken for the old one, at the old one's path."""
    from starlette.routing import Router

    old = [Route("/old", _digits)]
    router = Router(routes=old)
    dispatcher = Dispatcher(router, router.app)
    assert [r.path for r in dispatcher.view("/old").routes] == ["/old"]  # indexed for `old`
    router.routes = [Route("/other", _digits)]  # replaced, and not yet asked for
    new = [Route("/new", _digits)]
    dispatcher.prepare(new, [id(old[0])])  # the old route's id, taken again
    router.routes = new
    assert [r.path for r in dispatcher.view("/new").routes] == ["/new"]


def test_a_route_with_a_user_convertor_is_answered_like_the_linear_scan(tmp_path):
    _write(tmp_path, {
        "routes/c/[x]/route.py": HANDLER.format(method="GET", params=", x", values=', "x": x'),
        "routes/c/[x]/total/route.py": HANDLER.format(method="GET", params=", x", values=""),
    })
    fast, linear = _apps(tmp_path)
    for app in (fast, linear):  # after the file routes: they win where both match
        app.add_route(f"/c/{{x:{DIGITS}}}", _digits)
    view = runtime_of(fast).dispatcher.view("/somewhere/else")
    assert [r.path for r in view.routes if isinstance(r, Route)] == [f"/c/{{x:{DIGITS}}}"]

    expected = {
        ("GET", "/c/1/2/3"): (200, "1+2+3", {}),  # three segments: only the user convertor
        ("GET", "/c/7/8"): (200, "7+8", {}),
        ("GET", "/c/1/2/3/"): (307, "", {"location": "http://testserver/c/1/2/3"}),
        ("POST", "/c/1/2/3"): (405, '{"detail":"Method Not Allowed"}', {"allow": "GET, HEAD"}),
        ("GET", "/c/5/total"): (200, '{"file":"/c/[x]/total/route.py","method":"GET"}', {}),
        ("GET", "/c/1/x"): (404, '{"detail":"Not Found"}', {}),
        ("GET", "/c/5"): (200, '{"file":"/c/[x]/route.py","method":"GET","x":"5"}', {}),
    }
    def answer(client: TestClient, method: str, path: str) -> tuple[object, ...]:
        status, text, headers = _answer(client, method, path)
        if "allow" in headers:  # a Starlette Route keeps its methods in a set: any order
            headers["allow"] = ", ".join(sorted(headers["allow"].split(", ")))
        return status, text, headers

    with TestClient(fast) as a, TestClient(linear) as b:
        for (method, path), wanted in expected.items():
            assert answer(b, method, path) == wanted, (method, path)  # what Starlette does
            assert answer(a, method, path) == wanted, (method, path)


def test_a_user_convertor_inside_a_segment_is_answered_like_the_linear_scan():
    fast, linear = FastAPI(), FastAPI()
    for app in (fast, linear):
        app.add_route(f"/e/{{x:{DIGITS}}}.txt", _digits)
    assert install(fast.router) is not None
    with TestClient(fast) as a, TestClient(linear) as b:
        for path, wanted in [("/e/1/2.txt", (200, "1+2", {})), ("/e/3.txt", (200, "3", {})),
                             ("/e/1/x.txt", (404, '{"detail":"Not Found"}', {}))]:
            assert _answer(b, "GET", path) == wanted, path  # what Starlette does
            assert _answer(a, "GET", path) == wanted, path
