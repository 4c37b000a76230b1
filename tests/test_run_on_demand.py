"""End to end (issue 12, SPEC 10): real `fastapi-route run` processes under the three
schedules. An import error stops `run` before it binds its port; a handler FastAPI rejects
stops it with a non-zero exit naming the file (after binding under the default schedule, before
it under --eager); and `run`, `run --eager` and `run --lazy` give the same answers to the same
requests. Behaviour, not seconds: every wait is bounded, none is asserted on."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import write_tree
from servers import Server, http_request, run_args, run_cli, run_refused_before_binding
from transcripts import SAMPLE_REQUESTS
from websockets.sync.client import connect

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parent.parent / "sample_project"
VOLATILE = {"x-request-id", "x-process-time", "date", "etag", "last-modified"}

OK_ROUTE = """
    def GET(request):
        return {"page": "home"}
"""
IMPORT_ERROR = {
    "routes/index.py": OK_ROUTE,
    "routes/broken/route.py": """
        import not_a_module_anywhere

        def GET(request):
            return {}
    """,
}
LAYOUT_IMPORT_ERROR = {
    "routes/index.py": OK_ROUTE,
    "routes/admin/route.py": OK_ROUTE,
    "routes/admin/_layout.py": """
        raise RuntimeError("the layout exploded")
    """,
}
REJECTED = {
    "routes/index.py": OK_ROUTE,
    "routes/bad/route.py": """
        class Plain:
            pass


        def GET(request, thing: Plain):
            return {}
    """,
}


def built(tmp_path: Path, files: dict[str, str]) -> Path:
    root = write_tree(tmp_path / "app", files)
    result = run_cli(["build", "--project", str(root)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout  # the build cannot see either problem
    return root


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_import_error_stops_run_before_it_binds(tmp_path: Path, workers: str) -> None:
    root = built(tmp_path, IMPORT_ERROR)
    out = run_refused_before_binding(root, tmp_path, "--workers", workers)
    assert "routes/broken/route.py" in out
    assert "not_a_module_anywhere" in out
    assert "Traceback" not in out  # a message, not a traceback of ours


def test_an_import_error_in_a_layout_stops_run_before_it_binds(tmp_path: Path) -> None:
    root = built(tmp_path, LAYOUT_IMPORT_ERROR)
    out = run_refused_before_binding(root, tmp_path)
    assert "routes/admin/_layout.py" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_run_eager_refuses_a_rejected_handler_before_it_binds(
    tmp_path: Path, workers: str,
) -> None:
    root = built(tmp_path, REJECTED)
    out = run_refused_before_binding(root, tmp_path, "--eager", "--workers", workers)
    assert "routes/bad/route.py:5" in out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_rejected_handler_stops_run_after_it_bound_naming_the_file(
    tmp_path: Path, workers: str,
) -> None:
    """Under the default schedule the handler is only handed to FastAPI after the port is
    bound; the warm-up reaches it without any request, and `run` must still end, non-zero,
    naming the file."""
    root = built(tmp_path, REJECTED)
    with Server(run_args(root, "--workers", workers), cwd=tmp_path) as server:
        code = server.wait_exit(timeout=30)
        out = server.output()
    assert "Serving" in out, out  # it passed every check made before binding
    assert code != 0, f"run exited {code}\n{out}"
    assert "routes/bad/route.py" in out


# --- the same answers under the three schedules ------------------------------------------------




def transcript(server: Server) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for method, url, body, headers in SAMPLE_REQUESTS:
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers = {**headers, "Content-Type": "application/json"}
        status, got, raw = http_request(server.port, method, url, body=data, headers=headers)
        here = f"127.0.0.1:{server.port}"  # each server has its own port (a redirect names it)
        text = raw.decode("utf-8", "replace").replace(here, "HERE")
        if "token" in text or "request_id" in text:  # random per request
            text = text[:10]
        kept = sorted((k, v.replace(here, "HERE")) for k, v in got.items() if k not in VOLATILE)
        out.append((method, url, status, kept, text))
    with connect(f"ws://127.0.0.1:{server.port}/ws?name=ada") as ws:
        replies = []
        for message in ("hi", "again"):
            ws.send(message)
            replies.append(ws.recv(timeout=10))
    out.append(("WS", "/ws?name=ada", replies))
    return out


def test_run_eager_and_lazy_serve_the_same_answers(tmp_path: Path) -> None:
    flags = {"default": (), "eager": ("--eager",), "lazy": ("--lazy",)}
    with contextlib.ExitStack() as stack:
        servers = {}
        for name, extra in flags.items():  # each on its own copy: the requests change state
            root = tmp_path / name / "sample_project"
            shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
            result = run_cli(["build", "--project", str(root)], cwd=root.parent)
            assert result.returncode == 0, result.stdout
            servers[name] = stack.enter_context(
                Server(run_args(root, *extra), cwd=root.parent))
        for server in servers.values():  # started together, asked one after the other
            server.wait_ready("/health")
        transcripts = {name: transcript(server) for name, server in servers.items()}
        for server in servers.values():
            assert server.running(), server.output()
    default = transcripts["default"]
    for name in ("eager", "lazy"):
        for a, b in zip(default, transcripts[name], strict=True):
            assert a == b, name
    statuses = [t[2] for t in default]
    assert statuses[:3] == [200, 200, 200]
    assert 405 in statuses and 422 in statuses and 404 in statuses and 403 in statuses
    assert default[-1] == ("WS", "/ws?name=ada", ["ada: hi", "ada: again"])
