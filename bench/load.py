"""The long load run of tests/test_load.py, by hand: build a project with static, dynamic and
catch-all routes, a middleware and static files; serve it with `fastapi-route run --workers
N` on 127.0.0.1 (loopback only, a free port); load it with wrk (or, without wrk, an asyncio +
httpx generator); print the result; exit 1 if any request failed or was not a 2xx.

    python bench/load.py                       # 64 connections, 30 s, 2 workers
    python bench/load.py --seconds 120 --connections 128 --generator python --json out.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from loadgen import PATHS, run_load, write_project
from servers import run_cli, start_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--json", type=Path, help="also write the result here as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="fastapi-route-load-") as tmp:
        root = write_project(Path(tmp) / "app")
        built = run_cli(["build", "--project", str(root)], cwd=Path(tmp))
        if built.returncode != 0:
            print(built.stdout, file=sys.stderr)
            return 1
        run = ["fastapi_route", "run", "--project", str(root), "--host", "127.0.0.1",
               "--port", "{port}", "--workers", str(args.workers)]
        with start_server(run, cwd=Path(tmp)) as server:
            print(f"fastapi-route run --workers {args.workers} on 127.0.0.1:{server.port}; "
                  f"{args.connections} connections for {args.seconds:.0f} s over {len(PATHS)} "
                  "paths")
            result = run_load(server.port, PATHS, args.connections, args.seconds,
                              args.generator)
            alive = server.running()
            log = server.output()
    print(result.summary())
    if args.json:
        args.json.write_text(result.as_json() + "\n", encoding="utf-8")
    if "Traceback" in log:
        print(log, file=sys.stderr)
    ok = result.clean and alive and "Traceback" not in log
    print("clean: every request got a 2xx" if ok else "FAILED", file=sys.stderr if not ok else None)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
