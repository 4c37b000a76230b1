"""End to end (SPEC 12.1): a team's own `main.py` includes two route trees, one a project folder
built with `fastapi-route build`, one an installed app's wheel-like package; real uvicorn on a
loopback port, real HTTP. The host's lifespan runs once per worker and its state reaches the
trees' handlers, the warm-up registers every route, and a route the host adds after `include`
stops the server at start with our message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_tree
from servers import Server, poll, run_cli

pytestmark = pytest.mark.slow

MAIN = """
    import logging
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    import fastapi_route

    logging.basicConfig(level=logging.INFO)


    @asynccontextmanager
    async def lifespan(app):
        print("host lifespan: start", flush=True)
        yield {"db": "host-db"}
        print("host lifespan: stop", flush=True)


    app = FastAPI(lifespan=lifespan, title="Host")


    @app.get("/v1/health")
    def health():
        return {"ok": True}


    orders = fastapi_route.include(app, "orders", prefix="/v2")
    billing = fastapi_route.include(app, app_name="billing", prefix="/billing")
"""

ORDERS = {
    "routes/items/[item_id=int]/route.py": """
        def GET(request, item_id: int):
            return {"item_id": item_id, "db": request.state.db}
    """,
    "routes/items/[slug]/route.py": """
        def GET(request, slug: str):
            return {"slug": slug}
    """,
    "middleware.py": """
        async def middleware(request, call_next):
            response = await call_next(request)
            response.headers["x-tree"] = "orders"
            return response
    """,
}

BILLING = {
    "__init__.py": "",
    "routes/invoices/route.py": """
        def GET(request):
            return ["invoice"]
    """,
}


def host(tmp_path: Path, main: str = MAIN) -> Path:
    root = write_tree(tmp_path / "service", {"main.py": main})
    write_tree(root / "orders", ORDERS)
    write_tree(root / "billing", BILLING)
    for project in ("orders", "billing"):
        built = run_cli(["build", "--project", str(root / project)], cwd=root)
        assert built.returncode == 0, built.stdout
    return root


@pytest.mark.parametrize("workers", [1, 2])
def test_uvicorn_serves_the_hosts_main_with_two_included_trees(tmp_path: Path,
                                                               workers: int) -> None:
    root = host(tmp_path)
    args = ["uvicorn", "main:app", "--host", "127.0.0.1", "--port", "{port}",
            "--workers", str(workers)]
    with Server(args, cwd=root, env={"PYTHONPATH": str(root)}) as server:
        server.wait_ready("/v1/health")
        status, headers, body = server.get("/v2/items/7")
        assert status == 200 and json.loads(body) == {"item_id": 7, "db": "host-db"}
        assert headers["x-tree"] == "orders"
        assert json.loads(server.get("/v2/items/seven")[2]) == {"slug": "seven"}
        assert json.loads(server.get("/billing/invoices")[2]) == ["invoice"]
        status, headers, _ = server.get("/v1/health")
        assert status == 200 and "x-tree" not in headers
        assert server.get("/v2/nowhere")[0] == 404
        paths = json.loads(server.get("/openapi.json")[2])["paths"]
        assert {"/v1/health", "/v2/items/{item_id}", "/v2/items/{slug}",
                "/billing/invoices"} <= set(paths)
        # The warm-up ran in every worker, started by the host's lifespan.
        poll(server.output, lambda out: out.count("routes registered in") == 2 * workers,
             server=server)
        assert server.output().count("host lifespan: start") == workers
        server.stop()  # SIGTERM: uvicorn shuts down gracefully (then may re-raise the signal)
        out = server.output()
    assert "host lifespan: stop" in out
    assert "Traceback" not in out


def test_a_route_the_host_adds_after_include_stops_the_start(tmp_path: Path) -> None:
    main = MAIN + """

    @app.get("/billing/invoices")
    def also_invoices():
        return []
    """
    root = host(tmp_path, main)
    args = ["uvicorn", "main:app", "--host", "127.0.0.1", "--port", "{port}"]
    with Server(args, cwd=root, env={"PYTHONPATH": str(root)}) as server:
        assert server.wait_exit(60) != 0
        out = server.output()
    assert "ROUTE_CONFLICT" in out
    assert "billing/routes/invoices/route.py:1 (this tree)" in out
    assert "main.py:" in out and "also_invoices (the app's own route)" in out
