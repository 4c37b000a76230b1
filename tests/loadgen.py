"""Load on a loopback server: `wrk` when it is installed, else an asyncio + httpx generator.

    result = run_load(port, PATHS, connections=16, seconds=5)
    assert result.clean, result

Both count every response whose status is not 2xx and every transport error, so a run is
clean only if all of its requests succeeded. Used by tests/test_load.py and bench/load.py.
Only 127.0.0.1 is ever addressed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

HOST = "127.0.0.1"

# A project with every kind of route, a middleware, static files and a slow route.
LOAD_PROJECT = {
    "config.py": 'app_name = "load"\n',
    "middleware.py": (
        "async def middleware(request, call_next):\n"
        "    response = await call_next(request)\n"
        "    response.headers['x-load'] = '1'\n"
        "    return response\n"
    ),
    "routes/index.py": "def GET(request):\n    return {'page': 'home'}\n",
    "routes/about/route.py": "async def GET(request):\n    return {'page': 'about'}\n",
    "routes/users/me/route.py": "def GET(request):\n    return {'me': True}\n",
    "routes/users/[user_id]/route.py": (
        "def GET(request, user_id: int):\n    return {'user_id': user_id}\n"
    ),
    "routes/docs/[...slug]/route.py": "def GET(request, slug):\n    return {'slug': slug}\n",
    "routes/api/items/[item_id]/route.py": (
        "async def GET(request, item_id: int, detail: bool = False):\n"
        "    return {'item_id': item_id, 'detail': detail}\n"
    ),
    "routes/slow/route.py": (
        "import asyncio\n\n\nasync def GET(request, seconds: float = 0.5):\n"
        "    await asyncio.sleep(seconds)\n    return {'slept': seconds}\n"
    ),
    "public/css/app.css": "body { margin: 0; }\n" * 50,
    "public/robots.txt": "User-agent: *\nDisallow:\n",
}

PATHS = ("/", "/about", "/users/me", "/users/42", "/docs/guide/intro/setup",
         "/api/items/7?detail=true", "/css/app.css", "/robots.txt")


def write_project(root: Path) -> Path:
    for rel, text in LOAD_PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@dataclass
class LoadResult:
    generator: str
    connections: int
    seconds: float
    requests: int = 0
    ok: int = 0
    non_2xx: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)
    p99_ms: float = 0.0

    @property
    def clean(self) -> bool:
        return self.requests > 0 and self.non_2xx == 0 and self.errors == 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"{self.generator}: {self.requests} requests in {self.seconds:.1f} s "
                f"({self.rate:.0f}/s) over {self.connections} connections, p99 "
                f"{self.p99_ms:.1f} ms, non-2xx {self.non_2xx}, errors {self.errors} "
                f"{self.error_kinds or ''}")

    def as_json(self) -> str:
        return json.dumps({**asdict(self), "rate": self.rate, "clean": self.clean})


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


_WRK_SCRIPT = """
paths = {%(paths)s}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  ok = 0
  bad = 0
  i = 0
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local good, wrong = 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    wrong = wrong + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'LOADGEN {"requests": %%d, "ok": %%d, "non2xx": %%d, "connect": %%d, "read": %%d, ' ..
    '"write": %%d, "timeout": %%d, "p99_us": %%d, "duration_us": %%d}\\n',
    summary.requests, good, wrong, e.connect, e.read, e.write, e.timeout,
    latency:percentile(99), summary.duration))
end
"""


def run_wrk(port: int, paths: Sequence[str], connections: int, seconds: float,
            threads: int = 2, timeout_s: int = 10) -> LoadResult:
    script = _WRK_SCRIPT % {"paths": ", ".join(json.dumps(p) for p in paths)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", f"-t{min(threads, connections)}", f"-c{connections}",
             f"-d{max(1, round(seconds))}s", f"--timeout={timeout_s}s", "-s", f.name,
             f"http://{HOST}:{port}/"],
            capture_output=True, text=True, timeout=seconds + 60, check=False,
        )
    finally:
        Path(f.name).unlink()
    line = next((x for x in out.stdout.splitlines() if x.startswith("LOADGEN ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line.split(" ", 1)[1])
    kinds = {k: data[k] for k in ("connect", "read", "write", "timeout") if data[k]}
    return LoadResult(
        "wrk", connections, data["duration_us"] / 1e6, requests=data["requests"],
        ok=data["ok"], non_2xx=data["non2xx"], errors=sum(kinds.values()),
        statuses={"2xx": data["ok"], "other": data["non2xx"]}, error_kinds=kinds,
        p99_ms=data["p99_us"] / 1000,
    )


async def _python_load(port: int, paths: Sequence[str], connections: int,
                       seconds: float) -> LoadResult:
    import httpx

    result = LoadResult("python", connections, seconds)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits,
                                 timeout=10.0) as client:

        async def worker(offset: int) -> None:
            i = offset
            while time.monotonic() < deadline:
                path = paths[i % len(paths)]
                i += 1
                started = time.monotonic()
                try:
                    response = await client.get(path)
                except httpx.HTTPError as exc:
                    result.errors += 1
                    kind = type(exc).__name__
                    result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1
                    continue
                finally:
                    result.requests += 1
                latencies.append(time.monotonic() - started)
                key = str(response.status_code)
                result.statuses[key] = result.statuses.get(key, 0) + 1
                if 200 <= response.status_code < 300:
                    result.ok += 1
                else:
                    result.non_2xx += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(connections)))
        result.seconds = time.monotonic() - started
    if latencies:
        latencies.sort()
        result.p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return result


def run_python(port: int, paths: Sequence[str], connections: int, seconds: float) -> LoadResult:
    return asyncio.run(_python_load(port, paths, connections, seconds))


def run_load(port: int, paths: Sequence[str], connections: int, seconds: float,
             generator: str = "auto") -> LoadResult:
    """`generator`: "wrk", "python", or "auto" (wrk when installed)."""
    if generator == "wrk" or (generator == "auto" and have_wrk()):
        return run_wrk(port, paths, connections, seconds)
    return run_python(port, paths, connections, seconds)
