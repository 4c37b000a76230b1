"""End to end: real `python -m fastapi_route run|dev` (and plain uvicorn) processes on a free
loopback port, spoken to over real HTTP. Helpers are in tests/servers.py."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import (
    Server,
    poll,
    raw_request,
    run_args,
    run_cli,
    run_refused_before_binding,
    start_server,
)

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parent.parent / "sample_project"
CONFIG_TEXT = "Settings for the sample API"  # the first line of sample_app/config.py
HIDDEN_TEXT = "top secret dotfile"

TINY = {
    "routes/index.py": """
        def GET(request):
            return {"page": "home"}
    """,
    "routes/hello/route.py": """
        def GET(request, name: str = "world"):
            return {"hello": name}
    """,
}


def build(root: Path, cwd: Path) -> None:
    result = run_cli(["build", "--project", str(root)], cwd=cwd)
    assert result.returncode == 0, result.stdout
    assert "Build succeeded." in result.stdout


def json_of(body: bytes) -> object:
    return json.loads(body.decode())


def split_raw(response: bytes) -> tuple[str, dict[str, str], bytes]:
    """A raw HTTP/1.1 response: status line, lower-cased headers, everything after them."""
    head, _, rest = response.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, rest


# --- `run` on the sample project ------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built copy of sample_project (the repository's copy is never written to); the
    returned folder holds pyproject.toml, which names sample_app as the project."""
    base = tmp_path_factory.mktemp("sample")
    root = base / "sample_project"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    (root / "sample_app" / "public" / ".hidden").write_text(HIDDEN_TEXT, encoding="utf-8")
    build(root, cwd=base)
    assert (root / "sample_app" / ".cache" / "routes.dat").is_file()
    return root


@pytest.fixture(scope="module")
def sample(sample_root: Path) -> Iterator[Server]:
    with start_server(run_args(sample_root), cwd=sample_root.parent) as server:
        yield server


def test_static_segment_beats_param(sample: Server) -> None:
    status, _, body = sample.get("/users/me")
    assert status == 200
    assert json_of(body) == {"me": True, "id": 1, "name": "Ada", "email": "ada@example.com"}
    status, _, body = sample.get("/users/2")
    assert status == 200
    assert json_of(body) == {"id": 2, "name": "Grace", "email": "grace@example.com"}


def test_typed_param_is_validated(sample: Server) -> None:
    status, _, body = sample.get("/users/abc")
    assert status == 422
    detail = json_of(body)["detail"]  # type: ignore[index]
    assert detail[0]["loc"] == ["path", "user_id"]


def test_catchall_receives_segments(sample: Server) -> None:
    status, _, body = sample.get("/files/a/b/c.txt")
    assert status == 200
    assert json_of(body) == {"segments": ["a", "b", "c.txt"], "depth": 3}


def test_tuple_return_sets_status_and_headers(sample: Server) -> None:
    status, headers, body = sample.get("/teapot")
    assert status == 418
    assert headers["x-teapot"] == "yes"
    assert json_of(body) == {"error": "I'm a teapot"}

    status, _, body = sample.request(
        "POST", "/users", body=b'{"name": "Linus", "email": "linus@example.com"}',
        headers={"Content-Type": "application/json"},
    )
    assert status == 201
    created = json_of(body)
    assert created["name"] == "Linus"  # type: ignore[index]
    assert isinstance(created["id"], int)  # type: ignore[index]


def test_none_return_is_204_with_empty_body(sample: Server) -> None:
    status, _, body = sample.request(
        "POST", "/users", body=b'{"name": "Temp", "email": "temp@example.com"}',
        headers={"Content-Type": "application/json"},
    )
    assert status == 201
    user_id = json_of(body)["id"]  # type: ignore[index]
    raw = raw_request(sample.port, (
        f"DELETE /users/{user_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    ).encode())
    status_line, headers, rest = split_raw(raw)
    assert status_line.startswith("HTTP/1.1 204"), raw
    assert rest == b""
    assert headers.get("content-length", "0") == "0"
    assert sample.get(f"/users/{user_id}")[0] == 404


def test_head_answers_like_get_without_body(sample: Server) -> None:
    raw = raw_request(
        sample.port, b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    status_line, headers, rest = split_raw(raw)
    assert status_line.startswith("HTTP/1.1 200"), raw
    assert rest == b""
    assert headers["content-type"] == "application/json"
    _, _, get_body = sample.get("/")
    assert int(headers["content-length"]) == len(get_body)


def test_405_lists_every_method_of_the_path(sample: Server) -> None:
    status, headers, _ = sample.request("PUT", "/users", body=b"{}")
    assert status == 405
    assert {m.strip() for m in headers["allow"].split(",")} == {"GET", "HEAD", "POST"}


def test_middleware_sets_header_and_request_state(sample: Server) -> None:
    status, headers, body = sample.get("/health")
    assert status == 200
    request_id = headers["x-request-id"]
    assert len(request_id) == 32
    assert json_of(body) == {"status": "ok", "request_id": request_id}
    assert "x-process-time" in headers
    assert sample.get("/health")[1]["x-request-id"] != request_id


def test_custom_not_found_page(sample: Server, sample_root: Path) -> None:
    status, headers, body = sample.get("/no/such/page")
    assert status == 404
    assert headers["content-type"] == "application/json"
    listed = run_cli(["routes", "--json", "--project", str(sample_root)], cwd=sample_root.parent)
    table = json.loads(listed.stdout)
    assert json_of(body) == {"error": "not found", "path": "/no/such/page",
                             "routes": len(table)}  # the sample's routes, whatever they are
    assert "x-request-id" in headers  # the middleware wraps the fallback too


def test_static_files_from_public(sample_root: Path, sample: Server) -> None:
    public = sample_root / "sample_app" / "public"
    status, headers, body = sample.get("/robots.txt")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert body == (public / "robots.txt").read_bytes()
    status, headers, body = sample.get("/css/app.css")
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    assert body == (public / "css" / "app.css").read_bytes()


@pytest.mark.parametrize("path", [
    "/../sample_app/config.py",
    "/../config.py",
    "/%2e%2e/config.py",
    "/..%2fconfig.py",
    "/%2e%2e%2fconfig.py",
    "/css/../../config.py",
    "/css/%2e%2e/%2e%2e/config.py",
    "/.hidden",
    "/css/..%2f.hidden",
    "/%2ehidden",
])
def test_nothing_outside_public_or_dotfiles_is_served(sample: Server, path: str) -> None:
    status, _, body = sample.get(path)
    assert status in (400, 404), (status, body)
    assert CONFIG_TEXT.encode() not in body
    assert b"app_name" not in body
    assert HIDDEN_TEXT.encode() not in body


def test_openapi_has_real_parameter_types(sample: Server) -> None:
    status, _, body = sample.get("/openapi.json")
    assert status == 200
    schema = json_of(body)
    parameters = schema["paths"]["/users/{user_id}"]["get"]["parameters"]  # type: ignore[index]
    user_id = next(p for p in parameters if p["name"] == "user_id")
    assert user_id["in"] == "path"
    assert user_id["schema"]["type"] == "integer"
    assert "/files/{path}" in schema["paths"]  # type: ignore[index,operator]


def test_custom_docs_page(sample: Server) -> None:
    status, headers, body = sample.get("/docs")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    page = body.decode()
    assert "<h1>Sample API 1.0.0</h1>" in page
    assert "<code>GET /users/{user_id}</code>" in page


def test_run_prints_no_traceback(sample: Server) -> None:
    sample.get("/users/abc")
    assert "Traceback" not in sample.output()


# --- `run --workers 2` ------------------------------------------------------------------------


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is `pid`, from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces or parentheses
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_run_with_two_workers_uses_two_processes(project, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    root = project({
        **TINY,
        # Blocks its worker's event loop, so concurrent requests must spread over workers.
        "routes/pid/route.py": """
            import os
            import time

            async def GET(request):
                time.sleep(0.3)
                return {"pid": os.getpid()}
        """,
    })
    build(root, cwd=tmp_path)
    with start_server(run_args(root, "--workers", "2"), cwd=tmp_path) as server:
        workers = poll(
            lambda: [c for c in child_pids(server.pid) if "multiprocessing" in cmdline(c)
                     and "resource_tracker" not in cmdline(c)],
            lambda found: len(found) == 2, timeout=20, server=server,
        )

        def pid_of(_: int) -> int:
            status, _, body = server.get("/pid")
            assert status == 200
            return int(json_of(body)["pid"])  # type: ignore[index]

        seen: set[int] = set()

        def one_round() -> set[int]:
            with ThreadPoolExecutor(max_workers=6) as pool:
                seen.update(pool.map(pid_of, range(6)))
            return seen

        poll(one_round, lambda s: len(s) == 2, timeout=20, interval=0, server=server)
        assert seen == set(workers)
        assert server.pid not in seen


# --- `run` refuses a missing, corrupt or forged cache before binding a port -------------------


def test_run_without_a_build_exits_1(project, tmp_path: Path) -> None:
    root = project(TINY)
    out = run_refused_before_binding(root, tmp_path)
    assert "No valid build found. Run 'fastapi-route build' first." in out


def test_run_with_a_truncated_cache_exits_1(project, tmp_path: Path) -> None:
    root = project(TINY)
    build(root, cwd=tmp_path)
    data = root / ".cache" / "routes.dat"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    out = run_refused_before_binding(root, tmp_path)
    assert "corrupt" in out
    assert "fastapi-route clean" in out  # how to mend it


class _System:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, (f"touch {self.marker}",))


class _Exec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("gadget", [_System, _Exec], ids=["os.system", "builtins.exec"])
def test_run_refuses_a_forged_cache_without_running_it(
    project, tmp_path: Path, gadget: type
) -> None:
    root = project(TINY)
    build(root, cwd=tmp_path)
    # The gadget works: a plain unpickler runs it (on a control file).
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(gadget(control), protocol=4))
    assert control.exists()

    marker = tmp_path / "pwned"
    cache = root / ".cache"
    forged = zlib.compress(pickle.dumps(
        {"format_version": 1, "routes": [], "x": gadget(marker)}, protocol=4
    ))
    (cache / "routes.dat").write_bytes(forged)
    manifest = json.loads((cache / "manifest.json").read_text())
    manifest["routes_sha256"] = hashlib.sha256(forged).hexdigest()
    (cache / "manifest.json").write_text(json.dumps(manifest))
    out = run_refused_before_binding(root, tmp_path)
    assert "tampered" in out
    assert not marker.exists()


# --- a stale cache ----------------------------------------------------------------------------


def test_run_warns_about_a_stale_cache_and_strict_refuses_it(
    project, make_tree, tmp_path: Path
) -> None:
    root = project(TINY)
    build(root, cwd=tmp_path)
    make_tree(root, {"routes/extra/route.py": """
        def GET(request):
            return {"extra": True}
    """})
    with start_server(run_args(root), cwd=tmp_path) as server:
        assert server.get("/hello?name=ada")[2] == b'{"hello":"ada"}'
        out = server.output()
        assert "stale" in out
        assert "routes/extra/route.py" in out
        assert server.get("/extra")[0] == 404  # served from the cache, as built

    out = run_refused_before_binding(root, tmp_path, "--strict")
    assert "stale" in out
    assert "routes/extra/route.py" in out


# --- `dev` ------------------------------------------------------------------------------------


def test_dev_reloads_on_changes_and_shows_errors(project, make_tree, tmp_path: Path) -> None:
    root = project({"routes/index.py": """
        def GET(request):
            return {"version": 1}
    """})
    args = ["fastapi_route", "dev", "--project", str(root), "--host", "127.0.0.1",
            "--port", "{port}"]
    with start_server(args, cwd=tmp_path) as server:
        assert json_of(server.get("/")[2]) == {"version": 1}
        assert not (root / ".cache").exists()  # dev scans, it does not build

        # A new route file appears in a brand-new folder, written at once (mkdir -p + write):
        # the folder's creation itself must trigger the reload.
        make_tree(root, {"routes/added/[name]/route.py": """
            def GET(request, name: str):
                return {"added": name}
        """})
        status, _, body = poll(lambda: server.get("/added/x"), lambda r: r[0] == 200,
                               server=server)
        assert json_of(body) == {"added": "x"}

        # A handler's body changes.
        make_tree(root, {"routes/index.py": """
            def GET(request):
                return {"version": 2}
        """})
        poll(lambda: server.get("/"), lambda r: r[0] == 200 and json_of(r[2]) == {"version": 2},
             server=server)

        # A broken file: every URL answers with the error page.
        make_tree(root, {"routes/added/[name]/route.py": """
            def GET(request, name: str):
                return {"added": name}

            def POST(request:
        """})
        status, headers, body = poll(lambda: server.get("/"), lambda r: r[0] == 500,
                                     server=server)
        assert headers["content-type"].startswith("text/html")
        page = body.decode()
        assert "SYNTAX_ERROR" in page
        assert "routes/added/[name]/route.py:4" in page
        for path in ("/added/x", "/no/such/page", "/openapi.json"):
            status, _, body = server.get(path)
            assert status == 500
            assert b"SYNTAX_ERROR" in body
        status, _, _ = server.request("POST", "/", body=b"{}")
        assert status == 500

        # Fixed again.
        make_tree(root, {"routes/added/[name]/route.py": """
            def GET(request, name: str):
                return {"fixed": name}
        """})
        poll(lambda: server.get("/added/y"), lambda r: r[0] == 200, server=server)
        assert json_of(server.get("/added/y")[2]) == {"fixed": "y"}
        assert json_of(server.get("/")[2]) == {"version": 2}
        assert server.running()


# --- fastapi_route.asgi:app under plain uvicorn ------------------------------------------------


def test_asgi_app_under_plain_uvicorn(project, tmp_path: Path) -> None:
    root = project(TINY)
    build(root, cwd=tmp_path)
    args = ["uvicorn", "fastapi_route.asgi:app", "--host", "127.0.0.1", "--port", "{port}"]
    with start_server(args, cwd=tmp_path, env={"FASTAPI_ROUTE_PROJECT": str(root)}) as server:
        status, _, body = server.get("/hello?name=uvicorn")
        assert status == 200
        assert json_of(body) == {"hello": "uvicorn"}
        assert json_of(server.get("/")[2]) == {"page": "home"}
        assert server.get("/nothing")[0] == 404
