"""Hostile requests against a real `python -m fastapi_route run` server on 127.0.0.1, sent as
raw bytes so that nothing normalises them on the way (`/../config.py`, `%2e%2e`, `%00`, ...).

Whatever arrives: nothing outside public/ and no dotfile is ever served (secret strings planted
in config.py, in a file beside the project, in dotfiles and behind symlinks never appear in a
response), route parameters receive traversal text as plain data, malformed or oversized bodies
get a 4xx, and nothing ever gets a 5xx or leaves a traceback in the server log.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Server, raw_request, run_cli, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="symlinks in public/ need POSIX"),
]

SECRETS = {
    "config.py": "SECRET-CONFIG-7f3a91",
    "outside": "SECRET-OUTSIDE-91c2e4",
    "root-dotenv": "SECRET-ROOT-ENV-0b77",
    "public-dotenv": "SECRET-PUBLIC-ENV-55aa",
    "git": "SECRET-GIT-CONFIG-e19d",
    "hidden": "SECRET-HIDDEN-DIR-3c3c",
    "route-source": "SECRET-ROUTE-SOURCE-d00d",
    "cache": "fastapi_route_version",  # the manifest's text
}
PUBLIC_CSS = "body { color: PUBLIC-CSS-ok; }"
PUBLIC_PAGE = "PUBLIC-PAGE-ok"

FILES = {
    # h11, whatever uvicorn would pick: httptools (uvicorn[standard], which fastapi-cli brings)
    # refuses a 100 kB request line itself, before our routing sees it.
    "config.py": f'# {SECRETS["config.py"]}\napp_name = "hostile"\nserver = {{"http": "h11"}}\n',
    ".env": f"TOKEN={SECRETS['root-dotenv']}\n",
    "public/css/app.css": PUBLIC_CSS,
    "public/.env": f"TOKEN={SECRETS['public-dotenv']}\n",
    "public/.git/config": f"[core] {SECRETS['git']}\n",
    "public/sub/.hidden/file.txt": SECRETS["hidden"],
    "public/sub/page.txt": PUBLIC_PAGE,
    "routes/index.py": (
        f"# {SECRETS['route-source']}\ndef GET(request):\n    return {{'page': 'home'}}\n"
    ),
    "routes/users/[user_id]/route.py": (
        "def GET(request, user_id: str):\n    return {'user_id': user_id}\n"
    ),
    "routes/files/[...path]/route.py": "def GET(request, path):\n    return {'path': path}\n",
    "routes/numbers/[n=int]/route.py": "def GET(request, n):\n    return {'int': len(str(n))}\n",
    "routes/numbers/[word]/route.py": "def GET(request, word):\n    return {'word': len(word)}\n",
    "routes/prices/[x=float]/route.py": "def GET(request, x):\n    return {'float': str(x)}\n",
    "routes/live/[n=int]/route.py": (
        "async def WEBSOCKET(websocket, n):\n    await websocket.accept()\n"
        "    await websocket.close()\n"
    ),
    "routes/items/route.py": (
        "from pydantic import BaseModel\n\n\n"
        "class Item(BaseModel):\n    name: str\n    price: float\n\n\n"
        "def POST(request, item: Item):\n    return {'name': item.name[:20], 'price': item.price}\n"
    ),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile-requests")
    (base / "secret-outside.txt").write_text(SECRETS["outside"])
    root = base / "app"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    public = root / "public"
    os.symlink("../../secret-outside.txt", public / "leak.txt")  # a file link out of public/
    os.symlink("../..", public / "up")  # a folder link out of public/
    os.symlink("../config.py", public / "config.txt")  # the project's own config
    os.symlink("css/app.css", public / "inside.css")  # a link that stays inside: fine
    result = run_cli(["build", "--project", str(root)], cwd=base)
    assert result.returncode == 0, result.stdout
    return root


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Server]:
    args = ["fastapi_route", "run", "--project", str(project), "--host", "127.0.0.1",
            "--port", "{port}"]
    with start_server(args, cwd=project.parent) as running:
        yield running
        log = running.output()
        assert "Traceback" not in log and "Exception in ASGI" not in log, log


def send(server: Server, target: bytes, *, method: bytes = b"GET", head: bytes = b"",
         body: bytes = b"") -> tuple[int, bytes]:
    """One raw request (the target byte for byte); the status and the whole response."""
    request = (method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head
               + b"Connection: close\r\n")
    if body:
        request += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    response = raw_request(server.port, request + b"\r\n" + body, timeout=60)
    assert response.startswith(b"HTTP/1.1 "), (target[:200], response[:200])
    return int(response[9:12]), response


def no_secret(response: bytes, what: object) -> None:
    for name, secret in SECRETS.items():
        assert secret.encode() not in response, (name, what, response[:300])


# --------------------------------------------------------------------------- traversal

DOTS = [b"..", b"%2e%2e", b"%2E%2E", b".%2e", b"%2e.", b"%252e%252e", b"%c0%ae%c0%ae",
        b"%e0%80%ae%e0%80%ae", b"%ef%bc%8e%ef%bc%8e", b"..%00", b"%2e%2e%00"]
SEPARATORS = [b"/", b"%2f", b"%2F", b"%252f", b"\\", b"%5c", b"%5C", b"%c0%af", b"//", b"/./"]
TARGETS = [b"config.py", b"secret-outside.txt", b".env", b"app/config.py", b"routes/index.py",
           b".cache/manifest.json", b"app/.cache/manifest.json"]
PREFIXES = [b"/", b"/css/", b"/sub/", b"/up/", b"//", b"/css/%2e%2e/"]


PUBLIC_BODIES = (PUBLIC_CSS.encode(), PUBLIC_PAGE.encode())


def traversals() -> list[bytes]:
    found = set()
    for dots, sep, target, prefix in itertools.product(DOTS, SEPARATORS, TARGETS, PREFIXES):
        for depth in (1, 2, 3):
            found.add(prefix + (dots + sep) * depth + target)
    found.update([
        b"/../config.py", b"/..", b"/%2e%2e", b"//etc/passwd", b"/%2fetc%2fpasswd",
        b"/css/app.css%00.txt", b"/%00", b"/css/app.css/..%2f..%2fconfig.py",
        b"http://127.0.0.1/../config.py", b"/css/app.css?../../config.py",
        b"/css/app.css#/../../config.py", b"/up/secret-outside.txt", b"/up/app/config.py",
        b"/up/up/up/etc/passwd", b"/leak.txt", b"/config.txt", b"/%2e/config.py",
    ])
    return sorted(found)


def test_traversal_in_every_encoding_reaches_nothing_outside_public(server: Server) -> None:
    paths = traversals()
    assert len(paths) > 13_000
    statuses: dict[int, int] = {}
    for target in paths:
        status, response = send(server, target)
        statuses[status] = statuses.get(status, 0) + 1
        no_secret(response, target)
        if status == 200:  # `/css/app.css?../x`: the query is not part of the path
            assert response.partition(b"\r\n\r\n")[2] in PUBLIC_BODIES, target
            continue
        assert status in (400, 404), (target, response[:300])
    assert statuses.get(404, 0) > len(paths) * 0.9, statuses


def test_traversal_against_route_parameters_is_only_data(server: Server) -> None:
    """Route parameters receive the decoded text; nothing is resolved as a path."""
    for dots, sep in itertools.product(DOTS, SEPARATORS):
        for prefix in (b"/users/", b"/files/", b"/files/a/"):
            target = prefix + (dots + sep) * 3 + b"config.py"
            status, response = send(server, target)
            no_secret(response, target)
            assert status in (200, 400, 404), (target, response[:300])
            if status == 200:
                body = json.loads(response.partition(b"\r\n\r\n")[2])
                assert set(body) <= {"user_id", "path"}, body
    status, response = send(server, b"/files/../../config.py")
    assert status == 200 and json.loads(response.partition(b"\r\n\r\n")[2]) == {
        "path": ["..", "..", "config.py"]
    }


@pytest.mark.parametrize(
    "target",
    [b"/.env", b"/%2eenv", b"/.git/config", b"/.git/", b"/sub/.hidden/file.txt",
     b"/sub/%2ehidden/file.txt", b"/leak.txt", b"/up/secret-outside.txt", b"/config.txt",
     b"/up/app/.env", b"/.cache/manifest.json", b"/routes/index.py", b"/config.py"],
)
def test_dotfiles_and_links_out_of_public_are_404(server: Server, target: bytes) -> None:
    for method in (b"GET", b"HEAD"):
        status, response = send(server, target, method=method)
        assert status == 404, (method, target, response[:300])
        no_secret(response, target)


def test_public_files_are_still_served(server: Server) -> None:
    for target in (b"/css/app.css", b"/inside.css", b"/sub/page.txt", b"/css/app.css?x=/.."):
        status, response = send(server, target)
        assert status == 200, (target, response[:300])
    assert send(server, b"/css/../css/app.css")[0] == 404  # no ".." segment is followed
    assert PUBLIC_CSS.encode() in send(server, b"/inside.css")[1]


# --------------------------------------------------------------------------- typed values

DIGITS = (sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0) or 4300


def body_of(response: bytes) -> object:
    return json.loads(response.partition(b"\r\n\r\n")[2])


def test_values_a_typed_segment_cannot_hold_do_not_match(server: Server) -> None:
    """`int()` of more digits than the interpreter's limit raised inside Starlette's routing
    (a 500); a float of 309 digits became `inf`."""
    for value in (b"1" * (DIGITS + 1), b"0" * (DIGITS + 1), b"9" * 100_000):
        status, response = send(server, b"/numbers/" + value)
        assert (status, body_of(response)) == (200, {"word": len(value)}), response[:300]
        status, response = send(server, b"/prices/" + value)
        if value.startswith(b"0"):  # zeros, leading or not, are a float: 0.0
            assert (status, body_of(response)) == (200, {"float": "0.0"}), response[:300]
        else:
            assert status == 404, response[:300]
    status, response = send(server, b"/numbers/" + b"1" * DIGITS)
    assert (status, body_of(response)) == (200, {"int": DIGITS})
    assert send(server, b"/prices/" + b"1" * 309 + b".5")[0] == 404
    status, response = send(server, b"/prices/" + b"1" * 308)
    assert status == 200 and body_of(response) == {"float": str(float("1" * 308))}


def handshake(server: Server, target: bytes) -> bytes:
    request = (b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(request)
        return s.recv(65536)


def test_a_websocket_handshake_with_a_hostile_value_is_refused(server: Server) -> None:
    assert handshake(server, b"/live/7").startswith(b"HTTP/1.1 101 ")
    response = handshake(server, b"/live/" + b"1" * (DIGITS + 1))
    assert response.startswith(b"HTTP/1.1 403 "), response[:300]


# --------------------------------------------------------------------------- bodies

BIG = 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("malformed", b'{"name": "a", "price": ', 422),
        ("not utf-8", b"\xff\xfe\x00garbage", 422),
        ("empty", b"", 422),
        ("wrong types", b'{"name": 1, "price": "x"}', 422),
        ("array", b"[1, 2, 3]", 422),
        ("deeply nested", b"[" * 100_000 + b"]" * 100_000, 400),
        ("huge integer", b'{"name": "a", "price": ' + b"9" * 5000 + b"}", 400),
        ("20 MB malformed", b'{"name": "' + b"a" * BIG, 422),
        ("20 MB wrong shape", b'{"other": "' + b"a" * BIG + b'"}', 422),
        ("20 MB of nulls", b"\x00" * BIG, 422),
        ("20 MB valid", b'{"price": 1, "name": "' + b"a" * BIG + b'"}', 200),
    ],
)
def test_malformed_and_oversized_json_bodies(
    server: Server, name: str, body: bytes, expected: int
) -> None:
    status, response = send(server, b"/items", method=b"POST", body=body,
                            head=b"Content-Type: application/json\r\n")
    assert status == expected, (name, response[:300])


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: -1\r\n", b"Content-Length: abc\r\n", b"Content-Length: 1, 2\r\n",
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", b"Transfer-Encoding: gzip\r\n",
    ],
)
def test_broken_framing_is_400(server: Server, head: bytes) -> None:
    status, response = send(server, b"/items", method=b"POST", head=head)
    assert status == 400, response[:300]


def test_a_body_shorter_than_announced_does_not_hurt(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                  b"\r\nContent-Length: 1000\r\n\r\n{\"name\":")
    assert send(server, b"/")[0] == 200


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("target", "head"),
    [
        (b"/users/" + b"a" * 100_000, b""),
        (b"/" + b"a" * 100_000, b""),
        (b"/?" + b"q=1&" * 25_000, b""),
        (b"/files/" + b"a/" * 50_000, b""),
        (b"/", b"X-Big: " + b"b" * 100_000 + b"\r\n"),
        (b"/", b"".join(b"X-H%d: v\r\n" % i for i in range(3000))),
        (b"/", b"Cookie: " + b"c=1; " * 20_000 + b"\r\n"),
    ],
)
def test_very_long_urls_and_headers(server: Server, target: bytes, head: bytes) -> None:
    status, response = send(server, target, head=head)
    assert status in (200, 400, 404, 413, 414, 431), response[:300]
    no_secret(response, target[:50])
    assert send(server, b"/")[0] == 200  # and the server is still fine


@pytest.mark.parametrize(
    "method", [b"TRACE", b"CONNECT", b"PROPFIND", b"DELETE", b"PATCH", b"OPTIONS", b"FOO"]
)
def test_odd_methods(server: Server, method: bytes) -> None:
    for target in (b"/", b"/css/app.css", b"/nothing", b"/../config.py"):
        status, response = send(server, target, method=method)
        assert 400 <= status < 500, (method, target, response[:300])
        no_secret(response, (method, target))


@pytest.mark.parametrize(
    "request_bytes",
    [b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\nConnection: close\r\n\r\n",
     b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
     b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", b"G\xc3\xa9T / HTTP/1.1\r\nHost: x\r\n\r\n"],
)
def test_garbage_requests_never_get_a_5xx(server: Server, request_bytes: bytes) -> None:
    response = raw_request(server.port, request_bytes, timeout=10)
    # uvicorn (h11) answers 400, or reads an unknown version as HTTP/1.1
    assert response[:12] in (b"HTTP/1.1 400", b"HTTP/1.1 200") or response == b"", response
    assert send(server, b"/")[0] == 200
