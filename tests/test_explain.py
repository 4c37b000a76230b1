"""`fastapi-route explain METHOD URL`: hand-picked cases on a real tree, each also checked
against a real request, and a property on generated trees: what `explain` says answers (the
route's file, a 405 with its Allow, a redirect, a public/ file, a 404) is what the running app
answers."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastapi_route import explain as explaining
from fastapi_route.cli import main
from fastapi_route.errors import BuildFailed
from fastapi_route.explain import Explanation, explain
from fastapi_route.project import Project
from fastapi_route.runtime.app import create_app

FILE = '    return {"file": __file__}\n'


def handler(method: str, params: str = "") -> str:
    return f"def {method}(request{params}):\n{FILE}\n\n"


TREE = {
    "routes/index.py": handler("GET"),
    "routes/users/route.py": handler("GET") + handler("POST"),
    "routes/users/me/route.py": handler("GET"),
    "routes/users/[user_id]/route.py": (
        "def GET(request, user_id: int):\n" + FILE + "\n\n" + handler("DELETE", ", user_id")
    ),
    "routes/users/_layout.py": (
        "from fastapi import Depends\n\n\ndef inner_dep():\n    return 1\n\n\n"
        "dependencies = [Depends(inner_dep)]\n\n\n"
        "async def middleware(request, call_next):\n    return await call_next(request)\n"
    ),
    "routes/_layout.py": (
        "from fastapi import Depends\n\n\ndef outer_dep():\n    return 1\n\n\n"
        "dependencies = [Depends(outer_dep)]\n\n\n"
        "async def middleware(request, call_next):\n    return await call_next(request)\n"
    ),
    "routes/posts/[post_id=int]/route.py": handler("GET", ", post_id: int"),
    "routes/posts/[slug]/route.py": handler("GET", ", slug: str"),
    "routes/files/[...path]/route.py": handler("GET", ", path: list[str]"),
    "routes/files/readme/route.py": handler("GET"),
    "routes/guide/[[...page]]/route.py": handler("GET", ", page: list[str]"),
    "routes/(auth)/login/route.py": handler("POST"),
    "routes/search/route.py": (
        "from fastapi import Depends, Header\n\n\ndef who(x_user: str = Header()):\n"
        "    return x_user\n\n\n"
        "def GET(request, q: str, limit: int = 10, x_token: str = Header(),"
        " user: str = Depends(who)):\n" + FILE
    ),
    "middleware.py": (
        "async def middleware(request, call_next):\n    return await call_next(request)\n"
    ),
    "public/robots.txt": "User-agent: *\n",
    "public/users/avatar.png": "png",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("explain") / "app", TREE)


@pytest.fixture(scope="module")
def client(tree: Path) -> Any:
    with TestClient(create_app(Project(tree), source="scan")) as client:
        yield client


def agrees(root: Path, client: Any, e: Explanation) -> None:
    """The running app answers the request as `e` says."""
    response = client.request(e.method, "http://testserver" + e.url, follow_redirects=False)
    head = e.method == "HEAD"
    if e.outcome == "route" and response.status_code == 422:
        # The route answered: FastAPI's validation of its path parameter refused the value.
        assert any(d["loc"][0] == "path" for d in response.json()["detail"]), response.text
    elif e.outcome == "route":
        assert response.status_code == 200, (e.url, response.text)
        assert e.route is not None and e.route.file is not None
        if not head:
            assert Path(response.json()["file"]).resolve() == (root / e.route.file).resolve()
    elif e.outcome == "method_not_allowed":
        assert response.status_code == 405
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed == set(e.allow)
    elif e.outcome == "redirect":
        assert response.status_code == 307
        assert e.location is not None
        assert response.headers["location"].endswith(e.location)
    elif e.outcome == "static":
        assert response.status_code == 200
        assert e.static_file is not None
        if not head:
            assert response.text == (root / e.static_file).read_text()
    else:
        assert e.outcome == "not_found"
        assert response.status_code == 404


def ask(tree: Path, client: Any, method: str, url: str) -> Explanation:
    e = explain(tree, method, url, source="scan")
    agrees(tree, client, e)
    return e


def test_static_beats_param(tree: Path, client: Any) -> None:
    e = ask(tree, client, "GET", "/users/me")
    assert e.outcome == "route" and e.route is not None
    assert e.route.file == "routes/users/me/route.py" and e.route.line == 1
    assert [(s.text, s.kind) for s in e.segments] == [("users", "static"), ("me", "static")]
    [loser] = e.losers
    assert loser.route.file == "routes/users/[user_id]/route.py"
    assert loser.segment == 2 and "static me beats param {user_id}" in loser.reason


def test_typed_beats_untyped_and_untyped_takes_the_rest(tree: Path, client: Any) -> None:
    e = ask(tree, client, "GET", "/posts/42")
    assert e.route is not None and e.route.file == "routes/posts/[post_id=int]/route.py"
    assert (e.segments[1].kind, e.segments[1].value, e.segments[1].convertor) == (
        "typed", 42, "int")
    [loser] = e.losers
    assert loser.route.file == "routes/posts/[slug]/route.py"
    assert "typed {post_id:int} beats param {slug}" in loser.reason
    e = ask(tree, client, "GET", "/posts/hello")
    assert e.route is not None and e.route.file == "routes/posts/[slug]/route.py"
    assert e.losers == []


def test_catchall_loses_and_takes_the_rest(tree: Path, client: Any) -> None:
    e = ask(tree, client, "GET", "/files/readme")
    assert e.route is not None and e.route.file == "routes/files/readme/route.py"
    [loser] = e.losers
    assert loser.route.file == "routes/files/[...path]/route.py"
    assert "static readme beats catch-all {path:path}" in loser.reason
    e = ask(tree, client, "GET", "/files/a/b")
    assert e.route is not None and e.route.file == "routes/files/[...path]/route.py"
    assert e.segments[-1].kind == "catch-all" and e.segments[-1].value == ["a", "b"]
    assert [(p.name, p.source, p.type) for p in e.parameters][-1] == (
        "path", "path", "list[str]")


def test_optional_catchall_at_its_folder_url(tree: Path, client: Any) -> None:
    e = ask(tree, client, "GET", "/guide")
    assert e.route is not None and e.route.file == "routes/guide/[[...page]]/route.py"
    assert e.route.path == "/guide"
    assert any("page is []" in note for note in e.notes)
    e = ask(tree, client, "GET", "/guide/intro/setup")
    assert e.route is not None and e.route.path == "/guide/{page:path}"
    assert e.segments[-1].value == ["intro", "setup"]


def test_a_group_adds_no_segment(tree: Path, client: Any) -> None:
    e = ask(tree, client, "POST", "/login")
    assert e.route is not None and e.route.file == "routes/(auth)/login/route.py"
    assert e.groups == ["auth"]
    assert "groups (auth) add no URL segment" in explaining.render(e)


def test_layouts_middleware_and_dependencies_outermost_first(tree: Path, client: Any) -> None:
    e = ask(tree, client, "GET", "/users/7")
    assert e.layouts == ["routes/_layout.py", "routes/users/_layout.py"]
    assert [(m.name, m.origin) for m in e.middleware] == [
        ("middleware", "middleware.py"), ("middleware", "routes/_layout.py"),
        ("middleware", "routes/users/_layout.py"),
    ]
    assert [(d.name, d.origin) for d in e.dependencies] == [
        ("outer_dep", "routes/_layout.py"), ("inner_dep", "routes/users/_layout.py"),
    ]
    assert [(p.name, p.source, p.type) for p in e.parameters] == [
        ("request", "request", "Request"), ("user_id", "path", "int"),
    ]
    assert e.segments[1].value == "7"  # the str convertor's value; FastAPI makes it an int


def test_where_each_parameter_comes_from(tree: Path, client: Any) -> None:
    e = explain(tree, "GET", "/search?q=x", source="scan")
    assert e.outcome == "route"
    found = {p.name: (p.source, p.required) for p in e.parameters}
    assert found == {"request": ("request", None), "q": ("query", True),
                     "limit": ("query", False), "x_token": ("header", True),
                     "user": ("dependency", None)}
    assert ("who", "parameter user") in [(d.name, d.origin) for d in e.dependencies]


def test_405_names_every_method_of_the_path(tree: Path, client: Any) -> None:
    e = ask(tree, client, "PUT", "/users")
    assert (e.outcome, e.status, e.allow) == ("method_not_allowed", 405, ["GET", "HEAD", "POST"])
    assert "Allow: GET, HEAD, POST" in explaining.render(e)
    assert ask(tree, client, "HEAD", "/users").outcome == "route"


def test_public_file_redirect_and_404(tree: Path, client: Any) -> None:
    e = ask(tree, client, "GET", "/robots.txt")
    assert (e.outcome, e.static_file) == ("static", "public/robots.txt")
    assert e.answered_by == "public/robots.txt"
    # [user_id] matches first: its handler's `user_id: int` then refuses the value (422), and
    # the public/ file below is never reached.
    e = ask(tree, client, "GET", "/users/avatar.png")
    assert e.outcome == "route" and e.static_file is None
    assert client.get("/users/avatar.png").status_code == 422
    assert ask(tree, client, "POST", "/robots.txt").outcome == "not_found"
    e = ask(tree, client, "GET", "/users/")
    assert (e.outcome, e.location) == ("redirect", "/users")
    e = ask(tree, client, "GET", "/nowhere")
    assert (e.outcome, e.status, e.not_found) == ("not_found", 404, "FastAPI's JSON 404")
    assert "404 Not Found" in explaining.render(e)


def test_cli_text_json_and_exit_codes(tree: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["explain", "GET", "/users/me", "--scan", "--project",
                                  str(tree)])
    assert result.exit_code == 0, result.output
    assert "routes/users/me/route.py:1" in result.output
    assert "static me beats param {user_id}" in result.output
    result = runner.invoke(main, ["--project", str(tree), "explain", "--scan", "--json",
                                  "put", "/users"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"method", "url", "path", "outcome", "status", "route", "segments", "losers",
            "layouts", "middleware", "dependencies", "parameters", "allow", "static_file",
            "location", "not_found", "answered_by"} <= set(data)
    assert (data["method"], data["outcome"], data["status"], data["allow"]) == (
        "PUT", "method_not_allowed", 405, ["GET", "HEAD", "POST"])
    assert data["route"]["file"] == "routes/users/route.py"
    result = runner.invoke(main, ["explain", "--scan", "--json", "GET", "/users/7",
                                  "--project", str(tree)])
    data = json.loads(result.output)
    assert data["segments"][1] == {"text": "7", "piece": "{user_id}", "kind": "param",
                                   "param": "user_id", "value": "7", "convertor": "str"}
    # No cache without --scan, a bad method, a URL that is not a path: exit 1 with a message.
    result = runner.invoke(main, ["explain", "GET", "/", "--project", str(tree)])
    assert result.exit_code == 1 and "Error" in result.output
    result = runner.invoke(main, ["explain", "G-T", "/", "--scan", "--project", str(tree)])
    assert result.exit_code == 1 and "not an HTTP method" in result.output
    result = runner.invoke(main, ["explain", "GET", "users", "--scan", "--project", str(tree)])
    assert result.exit_code == 1 and "not a URL path" in result.output
    result = runner.invoke(main, ["explain", "GET", "/users/me", "--project", str(tree),
                                  "--scan", "--json"])
    assert json.loads(result.output)["answered_by"] == "routes/users/me/route.py"


def test_from_the_cache(tree: Path, tmp_path: Path) -> None:
    root = write(tmp_path / "cached", TREE)
    runner = CliRunner()
    assert runner.invoke(main, ["build", "--project", str(root)]).exit_code == 0
    result = runner.invoke(main, ["explain", "GET", "/posts/42", "--project", str(root)])
    assert result.exit_code == 0, result.output
    assert "routes/posts/[post_id=int]/route.py:1" in result.output
    assert "typed {post_id:int} beats param {slug}" in result.output


# --- the property: explain agrees with the running app on generated trees ------------------

STATIC = ["a", "b", "users", "x.y"]
METHODS = ["GET", "POST", "PUT", "DELETE"]


def _shape(folders: list[str]) -> tuple[str, ...]:
    shape = []
    for f in folders:
        if f.startswith("("):
            continue
        if f.startswith("[[...") or f.startswith("[..."):
            shape.append("{...}")
        elif f.startswith("["):
            shape.append("{" + f.partition("=")[2].rstrip("]") + "}")
        else:
            shape.append(f)
    return tuple(shape)


@st.composite
def trees(draw: st.DrawFn) -> dict[str, str]:
    """Valid route trees over a small alphabet (so paths overlap and precedence matters):
    static, [param], [p=int], [p=float], [...catchall], [[...optional]], (group) folders; at
    most one route file per URL shape (no DUPLICATE_ROUTE, AMBIGUOUS_ROUTE), parameters
    named after their URL depth (no DYNAMIC_CONFLICT); and some public/ files."""
    files: dict[str, str] = {}
    taken: set[tuple[str, ...]] = set()
    for _ in range(draw(st.integers(1, 10))):
        folders: list[str] = []
        params: list[str] = []
        for level in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["static", "static", "param", "int", "float", "group",
                                         "catchall", "optional"]))
            at = len(_shape(folders))
            if kind == "static":
                folders.append(draw(st.sampled_from(STATIC)))
            elif kind == "group":
                folders.append(f"(g{level})")
            elif kind in ("param", "int", "float"):
                folders.append(f"[p{at}]" if kind == "param" else f"[p{at}={kind}]")
                params.append(f"p{at}")
            else:
                folders.append(f"[...c{at}]" if kind == "catchall" else f"[[...c{at}]]")
                params.append(f"c{at}")
                break
        shape = _shape(folders)
        shapes = {shape}
        if folders and folders[-1].startswith("[[..."):
            shapes.add(shape[:-1])  # it serves its folder's URL too
        if shapes & taken or any(rel.rsplit("/", 1)[0] == "/".join(["routes", *folders])
                                 for rel in files):
            continue
        taken |= shapes
        methods = draw(st.lists(st.sampled_from(METHODS), min_size=1, max_size=3, unique=True))
        files["/".join(["routes", *folders, "route.py"])] = "".join(
            handler(m, "".join(f", {p}" for p in params)) for m in methods
        )
    for name in draw(st.lists(st.sampled_from(["a", "x.y", "users/a", "b/b", ".hidden"]),
                              max_size=3, unique=True)):
        files[f"public/{name}"] = f"static {name}"
    if not any(rel.startswith("routes/") for rel in files):
        files["routes/index.py"] = handler("GET")
    return files


segments = st.sampled_from([*STATIC, "42", "4.5", "zz", "", "a b", "%2F", ".hidden"])
paths = st.lists(segments, min_size=0, max_size=4).map(lambda s: "/" + "/".join(s))
request_lists = st.lists(st.tuples(st.sampled_from([*METHODS, "HEAD"]), paths),
                         min_size=1, max_size=12)
EXAMPLES = 100


def _example_requests(files: dict[str, str]) -> list[tuple[str, str]]:
    """Requests that reach what the tree holds: each route's URL (a value for each
    parameter) and its trailing-slash twin, and each public/ file."""
    found = []
    for rel in files:
        if rel.startswith("public/"):
            found += [("GET", "/" + rel[7:]), ("HEAD", "/" + rel[7:])]
            continue
        pieces = [("a/b" if f.startswith(("[...", "[[...")) else
                   "4.5" if f.endswith("=float]") else "42" if f.startswith("[") else f)
                  for f in rel.split("/")[1:-1] if not f.startswith("(")]
        url = "/" + "/".join(pieces)
        found += [("GET", url), ("POST", url), ("GET", url.rstrip("/") + "/")]
    return found


def test_explain_agrees_with_the_running_app() -> None:
    seen: list[dict[str, int]] = []

    @settings(max_examples=EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(files=trees(), requests=request_lists, dispatch=st.booleans())
    def agreement(files: dict[str, str], requests: list[tuple[str, str]],
                  dispatch: bool) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            root = write(Path(scratch), files)
            try:
                # The replay runs over the dispatcher's candidates, or the whole router.
                lazy = create_app(Project(root), source="scan", schedule="lazy",
                                  dispatch=dispatch)
            except BuildFailed as exc:  # the generator promises valid trees
                raise AssertionError(f"invalid tree {files}: {exc}") from exc
            outcomes: dict[str, int] = {}
            with TestClient(create_app(Project(root), source="scan")) as client:
                for method, url in [*requests, *_example_requests(files)]:
                    e = explain(root, method, url, app=lazy)
                    agrees(root, client, e)
                    outcomes[e.outcome] = outcomes.get(e.outcome, 0) + 1
            seen.append(outcomes)

    agreement()
    total = {k: sum(o.get(k, 0) for o in seen) for k in
             ("route", "method_not_allowed", "redirect", "static", "not_found")}
    assert len(seen) >= EXAMPLES, len(seen)
    # The examples really exercised every outcome, not only 404s.
    assert total["route"] >= EXAMPLES and total["not_found"] > 0, total
    assert total["method_not_allowed"] > 0 and total["redirect"] > 0, total
    assert total["static"] > 0, total
