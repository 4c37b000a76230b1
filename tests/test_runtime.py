"""The runtime in-process: the semantics of SPEC section 2 on real trees, through TestClient."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fastapi_route.config import load_config
from fastapi_route.errors import CacheError, FastAPIRouteError, NoBuildError
from fastapi_route.pipeline.build import build
from fastapi_route.project import Project
from fastapi_route.runtime.app import StaleCacheError, create_app

BASE = {
    "routes/index.py": """
        from fastapi_route import Request

        def GET(request: Request):
            return {"page": "home"}
    """,
    "routes/users/route.py": """
        def GET(request):
            return [{"id": 1}]

        def POST(request, body: dict):
            return body, 201
    """,
    "routes/users/me/route.py": """
        def GET(request):
            return {"me": True}
    """,
    "routes/users/[user_id]/route.py": """
        def GET(request, user_id: int):
            return {"user_id": user_id}

        def DELETE(request, user_id: int):
            return None
    """,
    "routes/docs/[...slug]/route.py": """
        async def GET(request, slug: list[str]):
            return {"slug": slug}
    """,
    "routes/[...rest]/route.py": """
        def GET(request, rest: list[str]):
            return {"rest": rest}
    """,
    "routes/(auth)/login/route.py": """
        def POST(request):
            return {"token": "t"}, 200, {"X-Auth": "yes"}
    """,
}


def client_for(root: Path, source: str = "scan", lazy: bool = False) -> TestClient:
    if source == "cache":
        build(root, load_config(root))
    return TestClient(create_app(Project(root), source=source, lazy=lazy))  # type: ignore[arg-type]


@pytest.fixture(params=["scan", "cache", "lazy"])
def base(request, project) -> TestClient:
    if request.param == "lazy":
        return client_for(project(BASE), "cache", lazy=True)
    return client_for(project(BASE), request.param)


def test_precedence_static_param_catchall(base):
    assert base.get("/users/me").json() == {"me": True}
    assert base.get("/users/7").json() == {"user_id": 7}
    assert base.get("/docs/a/b").json() == {"slug": ["a", "b"]}
    # A root catch-all does not swallow the more specific routes, and takes the rest.
    assert base.get("/").json() == {"page": "home"}
    assert base.get("/anything/else").json() == {"rest": ["anything", "else"]}


def test_type_hints_validate(base):
    response = base.get("/users/abc")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "user_id"]


def test_return_conventions(base):
    created = base.post("/users", json={"name": "x"})
    assert (created.status_code, created.json()) == (201, {"name": "x"})
    deleted = base.delete("/users/3")
    assert deleted.status_code == 204 and deleted.content == b""
    login = base.post("/login")
    assert login.headers["x-auth"] == "yes" and login.json() == {"token": "t"}


def test_head_for_every_get_and_405_lists_all_methods(base):
    head = base.head("/users/me")
    assert head.status_code == 200
    wrong = base.put("/users")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD, POST"


def test_openapi_has_real_types(base):
    spec = base.get("/openapi.json").json()
    params = spec["paths"]["/users/{user_id}"]["get"]["parameters"]
    assert params[0]["name"] == "user_id"
    assert params[0]["in"] == "path"
    assert params[0]["schema"]["type"] == "integer"
    assert "request" not in str(params)
    assert "post" in spec["paths"]["/login"]


def test_fastapi_features_work_unchanged(project):
    root = project({
        "models.py": """
            from pydantic import BaseModel

            class Item(BaseModel):
                name: str
                price: float
        """,
        "routes/items/route.py": """
            from __future__ import annotations

            from fastapi import Depends
            from fastapi_route import route

            from ...models import Item  # a relative import reaches the project root

            def paging(skip: int = 0, limit: int = 10) -> dict:
                return {"skip": skip, "limit": limit}

            def GET(request, page: dict = Depends(paging)) -> dict:
                return page

            @route(status_code=201, tags=["items"])
            async def POST(request, item: Item) -> Item:
                return item
        """,
    })
    client = client_for(root)
    assert client.get("/items?skip=5").json() == {"skip": 5, "limit": 10}
    made = client.post("/items", json={"name": "pen", "price": "1.5"})
    assert (made.status_code, made.json()) == (201, {"name": "pen", "price": 1.5})
    assert client.post("/items", json={"name": "pen"}).status_code == 422
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/items"]["post"]
    assert post["tags"] == ["items"]
    assert "Item" in str(post["requestBody"])


def test_exceptions_from_the_package(project):
    root = project({
        "routes/[code]/route.py": """
            from fastapi_route import (BadRequestException, ConflictException,
                ForbiddenException, MethodNotAllowedException, NotFoundException,
                UnauthorizedException)

            ERRORS = {400: BadRequestException, 401: UnauthorizedException,
                      403: ForbiddenException, 404: NotFoundException,
                      405: MethodNotAllowedException, 409: ConflictException}

            def GET(request, code: int):
                raise ERRORS[code]("nope")
        """,
    })
    client = client_for(root)
    for code in (400, 401, 403, 404, 405, 409):
        response = client.get(f"/{code}")
        assert (response.status_code, response.json()) == (code, {"detail": "nope"})


def test_helpers_never_shadow_the_standard_library(project):
    root = project({
        "routes/stats/profile.py": "VALUE = 'helper'\n",
        "routes/stats/route.py": """
            from . import profile as local_profile
            import profile

            def GET(request):
                return {"local": local_profile.VALUE, "stdlib": profile.__name__}
        """,
    })
    before = sys.path[:]
    client = client_for(root)
    assert client.get("/stats").json() == {"local": "helper", "stdlib": "profile"}
    assert sys.path == before


def test_two_projects_in_one_process_stay_apart(project, tmp_path):
    one = project({"routes/route.py": "def GET(request):\n    return {'app': 1}\n"})
    other_root = tmp_path / "other"
    (other_root / "routes").mkdir(parents=True)
    (other_root / "routes" / "route.py").write_text("def GET(request):\n    return {'app': 2}\n")
    assert client_for(one).get("/").json() == {"app": 1}
    assert client_for(other_root).get("/").json() == {"app": 2}


def test_middleware_not_found_docs_and_static(project):
    root = project({
        "routes/route.py": """
            def GET(request):
                return {"seen": request.state.tag}
        """,
        "middleware.py": """
            async def middleware(request, call_next):
                request.state.tag = "mw"
                response = await call_next(request)
                response.headers["X-Tag"] = "mw"
                return response
        """,
        "not-found.py": """
            def handler(request, context):
                stats = context.get_statistics()
                return {"missing": request.url.path, "routes": stats["total_routes"],
                        "project": context.get_project_info()["name"]}
        """,
        "docs.py": """
            async def handler(request, context):
                return "<h1>" + ", ".join(r["path"] for r in context.get_routes()) + "</h1>"
        """,
        "config.py": 'app_name = "Demo"\n',
        "public/site.css": "body {}\n",
        "public/.env": "SECRET=1\n",
        "secret.txt": "outside public\n",
    })
    (root / "public" / "link.txt").symlink_to(root / "secret.txt")
    client = client_for(root)
    home = client.get("/")
    assert home.json() == {"seen": "mw"} and home.headers["x-tag"] == "mw"
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json() == {"missing": "/nope", "routes": 1, "project": "Demo"}
    assert client.get("/docs").text == "<h1>/</h1>"
    assert client.get("/site.css").text == "body {}\n"
    for path in ("/.env", "/link.txt", "/../secret.txt", "/%2e%2e/secret.txt",
                 "/..%2fsecret.txt", "/config.py"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "SECRET" not in response.text and "outside public" not in response.text


def test_routes_win_over_static_files(project):
    root = project({
        "routes/about/route.py": "def GET(request):\n    return {'from': 'route'}\n",
        "public/about": "a file\n",
    })
    assert client_for(root).get("/about").json() == {"from": "route"}


def test_cors_and_docs_settings(project):
    root = project({
        "routes/route.py": "def GET(request):\n    return {}\n",
        "config.py": 'cors_enabled = True\ncors_origins = ["https://a.example"]\n'
                     'docs_enabled = False\n',
    })
    client = client_for(root)
    allowed = client.get("/", headers={"Origin": "https://a.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://a.example"
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404


def test_run_needs_a_valid_cache(project):
    root = project(BASE)
    with pytest.raises(NoBuildError):
        create_app(Project(root), source="cache")
    build(root, load_config(root))
    data = root / ".cache" / "routes.dat"
    data.write_bytes(data.read_bytes()[:10])
    with pytest.raises(CacheError):
        create_app(Project(root), source="cache")


def test_stale_cache_warns_or_refuses_with_strict(project, caplog):
    root = project(BASE)
    build(root, load_config(root))
    (root / "routes" / "extra").mkdir()
    (root / "routes" / "extra" / "route.py").write_text("def GET(request):\n    return {}\n")
    with caplog.at_level("WARNING", logger="fastapi_route"):
        create_app(Project(root), source="cache")
    assert "routes/extra/route.py" in caplog.text
    with pytest.raises(StaleCacheError, match="routes/extra/route.py"):
        create_app(Project(root), source="cache", strict=True)


def test_a_handler_that_fails_to_import_is_named(project):
    root = project({"routes/route.py": "import not_a_module\n\ndef GET(request):\n    pass\n"})
    with pytest.raises(FastAPIRouteError, match=r"routes/route.py failed to import"):
        create_app(Project(root), source="scan")


SAMPLE_REQUESTS = [
    ("GET", "/", None), ("HEAD", "/", None), ("GET", "/health", None),
    ("GET", "/users?limit=1", None), ("POST", "/users", {"name": "N", "email": "n@x"}),
    ("GET", "/users/me", None), ("GET", "/users/2", None), ("GET", "/users/abc", None),
    ("PUT", "/users/2", {"name": "G", "email": "g@x"}), ("DELETE", "/users/1", None),
    ("GET", "/users/1", None), ("GET", "/users/2/posts?page=2", None),
    ("GET", "/files/a/b/c.txt", None), ("POST", "/login", {"username": "u", "password": "secret"}),
    ("POST", "/login", {"username": "u", "password": "bad"}), ("POST", "/logout", None),
    ("GET", "/items?q=x&skip=5", None), ("GET", "/teapot", None), ("PUT", "/users", None),
    ("PATCH", "/users/2", None), ("GET", "/nope", None), ("GET", "/robots.txt", None),
    ("GET", "/css/app.css", None), ("GET", "/../sample_app/config.py", None),
    ("GET", "/docs", None), ("GET", "/openapi.json", None), ("GET", "/users/", None),
]
VOLATILE = {"x-request-id", "x-process-time", "date", "etag", "last-modified"}


def _transcript(client: TestClient) -> list[tuple[object, ...]]:
    out = []
    for method, url, body in SAMPLE_REQUESTS:
        r = client.request(method, url, json=body, follow_redirects=False)
        text = r.text
        if "token" in text or "request_id" in text:  # random per request
            text = text[:10]
        headers = sorted((k, v) for k, v in r.headers.items() if k not in VOLATILE)
        out.append((method, url, r.status_code, headers, text))
    return out


def test_lazy_equals_eager_on_the_sample_project(tmp_path):
    import shutil

    sample = Path(__file__).parent.parent / "sample_project"
    copies = []
    for name in ("eager", "lazy"):
        target = tmp_path / name
        shutil.copytree(sample, target, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
        copies.append(target / "sample_app")
    transcripts = []
    for root, lazy in zip(copies, (False, True), strict=True):
        build(root, load_config(root))
        # The sample's store is module state: each app imports it afresh.
        for name in [m for m in sys.modules if m == "sample_app" or m.startswith("sample_app.")]:
            del sys.modules[name]
        app = create_app(Project(root, "sample_app"), source="cache", lazy=lazy)
        transcripts.append(_transcript(TestClient(app)))
    eager, lazy_run = transcripts
    for a, b in zip(eager, lazy_run, strict=True):
        assert a == b
    assert [t[2] for t in eager][:3] == [200, 200, 200]


def test_lazy_imports_on_first_request_and_isolates_failures(project):
    root = project({
        "routes/good/route.py": "import json\n\ndef GET(request):\n    return {'ok': True}\n",
        "routes/bad/route.py": "import not_a_module\n\ndef GET(request):\n    return {}\n",
        "marker.py": "",
    })
    (root / "routes" / "good" / "route.py").write_text(
        "from pathlib import Path\nPath(__file__).with_name('imported').touch()\n"
        "def GET(request):\n    return {'ok': True}\n"
    )
    client = client_for(root, "cache", lazy=True)
    assert not (root / "routes" / "good" / "imported").exists()
    assert client.get("/good").json() == {"ok": True}
    assert (root / "routes" / "good" / "imported").exists()
    assert client.get("/bad").status_code == 500
    assert client.get("/good").status_code == 200
    assert client.post("/good").status_code == 405
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and "/good" in spec.json()["paths"]


def test_a_head_handler_of_its_own_answers_head(project):
    root = project({
        "routes/route.py": """
            from fastapi_route import Response

            def GET(request):
                return {"from": "get"}

            def HEAD(request):
                return Response(headers={"X-From": "head"})
        """,
        "routes/other/route.py": "def GET(request):\n    return {}\n",
    })
    client = client_for(root)
    assert client.head("/").headers["x-from"] == "head"
    assert client.get("/").json() == {"from": "get"}
    assert "x-from" not in client.head("/other").headers
    assert client.head("/other").status_code == 200


def test_tuple_and_none_returns_work_whatever_the_annotation(project):
    root = project({
        "routes/route.py": """
            def GET(request) -> dict:
                return {"made": True}, 201, {"X-Made": "yes"}

            def POST(request) -> dict:
                return None
        """,
    })
    client = client_for(root)
    made = client.get("/")
    assert (made.status_code, made.json(), made.headers["x-made"]) == (201, {"made": True}, "yes")
    empty = client.post("/")
    assert (empty.status_code, empty.content) == (204, b"")


def test_fastapi_refusing_a_handler_is_a_located_error(project, caplog):
    root = project({
        "routes/route.py": """
            class NotPydantic:
                pass

            def GET(request, thing: NotPydantic):
                return {}
        """,
    })
    with pytest.raises(FastAPIRouteError, match=r"routes/route.py:4 GET / cannot be registered"):
        create_app(Project(root), source="scan", schedule="eager")
    # Found after start-up (the default, warm schedule), outside `run`: the route answers 500
    # and the error is logged with its place (under `run` it stops the server: test_server.py).
    app = create_app(Project(root), source="scan")
    with TestClient(app) as client:
        assert client.get("/").status_code == 500
    assert "routes/route.py:4 GET / cannot be registered" in caplog.text
