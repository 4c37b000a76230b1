"""End to end packaging: real builds (`python -m build`, `pip wheel`, `uv build`) in isolated
environments, the app wheel installed into a fresh virtual environment, and its server started
from an empty folder and spoken to over HTTP.

fastapi-route itself is always our wheel, built once per session from this checkout (see
tests/packaging_helpers.py): the index's fastapi-route 0.2.1 is another, older product. One venv
serves the whole module; each test installs its app and uninstalls it again.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tree
from packaging_helpers import (
    REPO_ROOT,
    SAMPLE_PROJECT,
    SETUPTOOLS_APP,
    Venv,
    Wheelhouse,
    build_wheelhouse,
    copy_project,
    files_under,
    only,
    run,
    sdist_names,
    serving,
    wheel_names,
)
from servers import Server
from websockets.sync.client import connect as ws_connect

from fastapi_route.cli import main

pytestmark = pytest.mark.slow

SOURCE_DATE_EPOCH = "1700000000"
CACHE_FILES = [".cache/.gitignore", ".cache/manifest.json", ".cache/routes.dat"]
SAMPLE_ROUTES = [
    "routes/index.py",
    "routes/users/me/route.py",
    "routes/users/[user_id]/route.py",
    "routes/users/[user_id]/posts/route.py",
    "routes/files/[...path]/route.py",
    "routes/(auth)/login/route.py",
    "routes/(admin)/_layout.py",
    "routes/(admin)/admin/stats/route.py",
    "routes/ws/route.py",
    "routes/posts/[day=date]/route.py",
    "params/date.py",  # the app's own segment type (SPEC 14.1), shipped like routes/
    "app.py",
]
PROBLEM_LINE = re.compile(r"^([A-Z_]+ \S+:\d+) ", re.MULTILINE)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Wheelhouse:
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Wheelhouse) -> Venv:
    """A fresh venv holding our fastapi-route (and so FastAPI and uvicorn), no app yet."""
    env = Venv(tmp_path_factory.mktemp("venv") / "env")
    env.install(wheelhouse.wheel, wheelhouse=wheelhouse)
    return env


@pytest.fixture
def empty_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "empty"
    folder.mkdir()
    yield folder
    assert list(folder.iterdir()) == []


def build_app(project: Path, out: Path, wheelhouse: Wheelhouse, *args: str,
              check: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m build` (isolated) of an app project, our wheel in its build environment."""
    return run([sys.executable, "-m", "build", *args, "--outdir", out, project], cwd=project,
               env={**wheelhouse.env(), "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}, check=check)


def get_json(server: Server, path: str) -> object:
    status, _headers, body = server.get(path)
    assert status == 200, (path, status, body)
    return json.loads(body)


def test_build_install_and_run_the_sample_app_from_an_empty_folder(
    tmp_path: Path, wheelhouse: Wheelhouse, venv: Venv, empty_dir: Path
) -> None:
    project = copy_project(SAMPLE_PROJECT, tmp_path / "src" / "sample_project")
    build_app(project, tmp_path / "dist", wheelhouse)

    sdist = sdist_names(only(tmp_path / "dist", "sample_app-1.0.0.tar.gz"))
    assert not [n for n in sdist if ".cache" in n], sdist
    assert {f"sample_app/{r}" for r in SAMPLE_ROUTES} <= set(sdist)

    wheel = only(tmp_path / "dist", "sample_app-1.0.0-py3-none-any.whl")
    names = wheel_names(wheel)
    assert {f"sample_app/{r}" for r in [*SAMPLE_ROUTES, *CACHE_FILES]} <= set(names)
    assert "sample_app-1.0.0.dist-info/extra_metadata/fastapi_route_app.json" in names
    assert not (project / "sample_app" / ".cache").exists()  # the build wrote no source file

    with venv.installed("sample-app", wheel, wheelhouse=wheelhouse):
        installed = (venv.site_packages() / "sample_app").resolve()
        before = files_under(installed)
        assert {f"{r}" for r in CACHE_FILES} <= before

        status = run([venv.bin("fastapi-route"), "status"], cwd=empty_dir)
        assert "Built" in status.stdout
        assert str(installed / ".cache") in status.stdout
        # The wheel's cache is built from the very files installed: fresh, mtimes aside.
        assert "Stale:          no" in status.stdout, status.stdout

        command = [venv.bin("fastapi-route"), "run", "--strict", "--host", "127.0.0.1",
                   "--port", "{port}"]
        with serving(command, cwd=empty_dir, ready="/health") as server:
            me = get_json(server, "/users/me")
            assert isinstance(me, dict)
            assert me["me"] is True
            assert get_json(server, "/files/a/b") == {"segments": ["a", "b"], "depth": 2}
            # params/date.py, imported from the installed package, tells a day from a slug.
            assert get_json(server, "/posts/2026-12-04") == {"day": "2026-12-04", "posts": []}
            assert server.get("/posts/2026-02-30")[0] == 404  # no such day: [slug]'s 404
            assert server.get("/users/abc")[0] == 422
            # The (admin) layout guards its group; app.py's lifespan filled the state it reads.
            assert server.request("GET", "/admin/stats",
                                  headers={"X-Admin-Token": "wrong"})[0] == 403
            status, _, body = server.request("GET", "/admin/stats",
                                             headers={"X-Admin-Token": "admin-secret"})
            assert status == 200 and json.loads(body)["uptime_seconds"] >= 0
            # A websocket route, with a real client.
            with ws_connect(f"ws://127.0.0.1:{server.port}/ws?name=ada") as ws:
                ws.send("hello")
                assert ws.recv(timeout=10) == "ada: hello"

        # The same installed app on AWS Lambda (README "AWS Lambda"): the aws extra's Mangum,
        # an HTTP API event, the handler in a fresh interpreter finding the one installed app.
        venv.install("mangum", wheelhouse=wheelhouse)
        event = json.loads((Path(__file__).parent / "aws_events" / "http_v2.json").read_text())
        event.update(rawPath="/users/me", rawQueryString="")
        event["requestContext"]["http"]["path"] = "/users/me"
        del event["queryStringParameters"]
        out = run([venv.python, "-c", "import json, sys; from fastapi_route.aws import "
                   "handler; print(json.dumps(handler(json.loads(sys.argv[1]), None)))",
                   json.dumps(event)], cwd=empty_dir).stdout
        answer = json.loads(out.strip().splitlines()[-1])
        assert answer["statusCode"] == 200, out
        # The event accepts gzip, and app.py's GZipMiddleware obliged: a binary body, base64
        assert answer["headers"]["content-encoding"] == "gzip" and answer["isBase64Encoded"]
        assert json.loads(gzip.decompress(base64.b64decode(answer["body"])))["me"] is True

        assert files_under(installed) == before  # nothing written into site-packages


def test_a_validation_error_fails_python_m_build_with_the_clis_message(
    tmp_path: Path, wheelhouse: Wheelhouse
) -> None:
    project = copy_project(SAMPLE_PROJECT, tmp_path / "sample_project")
    write_tree(project / "sample_app", {"routes/health/route.py": """
        def GET(request):
            return {"status": "ok"}


        def GET(request):
            return {"status": "twice"}
    """})
    cli = CliRunner().invoke(main, ["build", "--project", str(project / "sample_app")])
    assert cli.exit_code == 1
    expected = PROBLEM_LINE.findall(cli.output)
    assert expected == ["DUPLICATE_METHOD routes/health/route.py:5"]

    result = build_app(project, tmp_path / "dist", wheelhouse, "--wheel", check=False)
    assert result.returncode != 0, result.stdout
    for problem in expected:
        assert problem in result.stdout, result.stdout
    assert not list((tmp_path / "dist").glob("*.whl"))


def test_pip_wheel_bakes_the_cache_too(tmp_path: Path, wheelhouse: Wheelhouse) -> None:
    project = copy_project(SAMPLE_PROJECT, tmp_path / "sample_project")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", tmp_path / "out",
         project], cwd=tmp_path, env=wheelhouse.env())
    names = wheel_names(only(tmp_path / "out", "sample_app-1.0.0-py3-none-any.whl"))
    assert {f"sample_app/{r}" for r in [*SAMPLE_ROUTES, *CACHE_FILES]} <= set(names)


def test_the_setuptools_example_builds_installs_and_serves(
    tmp_path: Path, wheelhouse: Wheelhouse, venv: Venv, empty_dir: Path
) -> None:
    project = copy_project(SETUPTOOLS_APP, tmp_path / "setuptools_app")
    build_app(project, tmp_path / "dist", wheelhouse)

    sdist = sdist_names(only(tmp_path / "dist", "setuptools_app-0.1.0.tar.gz"))
    assert "setuptools_app/routes/items/[item_id]/route.py" in sdist
    assert not [n for n in sdist if ".cache/" in n], sdist
    wheel = only(tmp_path / "dist", "setuptools_app-0.1.0-py3-none-any.whl")
    names = wheel_names(wheel)
    for rel in ["routes/index.py", "routes/items/[item_id]/route.py", "config.py",
                *CACHE_FILES]:
        assert f"setuptools_app/{rel}" in names, (rel, names)
    assert "setuptools_app-0.1.0.dist-info/extra_metadata/fastapi_route_app.json" in names

    with venv.installed("setuptools-app", wheel, wheelhouse=wheelhouse):
        installed = venv.site_packages() / "setuptools_app"
        before = files_under(installed)
        manifest = json.loads((installed / ".cache" / "manifest.json").read_text())
        assert manifest["compression_level"] == 9  # from config.py

        command = [venv.bin("fastapi-route"), "run", "--strict", "--host", "127.0.0.1",
                   "--port", "{port}"]
        with serving(command, cwd=empty_dir) as server:
            assert get_json(server, "/") == {"name": "Setuptools App",
                                             "built_with": "setuptools"}
            assert get_json(server, "/items/2?upper=true") == {"item_id": 2, "name": "SAW"}
            assert server.get("/items/abc")[0] == 422
            assert server.get("/items/9")[0] == 404
        assert files_under(installed) == before


def test_setuptools_src_layout_with_console_scripts(tmp_path: Path,
                                                    wheelhouse: Wheelhouse) -> None:
    """The plugin runs before setuptools reads pyproject.toml: package_dir (src/) and the
    app's own entry points must still come out right in the wheel."""
    project = tmp_path / "setuptools_src"
    copy_project(SETUPTOOLS_APP / "setuptools_app", project / "src" / "setuptools_app")
    text = (SETUPTOOLS_APP / "pyproject.toml").read_text(encoding="utf-8")
    text = text.replace('include = ["setuptools_app*"]', 'where = ["src"]')
    text = text.replace('project = "setuptools_app"', 'project = "src/setuptools_app"')
    text += '\n[project.scripts]\nsetuptools-app-hello = "setuptools_app.config:hello"\n'
    write_tree(project, {"pyproject.toml": text})
    build_app(project, tmp_path / "dist", wheelhouse, "--wheel")

    wheel = only(tmp_path / "dist", "setuptools_app-0.1.0-py3-none-any.whl")
    names = wheel_names(wheel)
    for rel in ["routes/items/[item_id]/route.py", *CACHE_FILES]:
        assert f"setuptools_app/{rel}" in names, (rel, names)
    assert not [n for n in names if n.startswith("src/")], names
    with zipfile.ZipFile(wheel) as z:
        marker = z.read("setuptools_app-0.1.0.dist-info/extra_metadata/fastapi_route_app.json")
        scripts = z.read("setuptools_app-0.1.0.dist-info/entry_points.txt").decode()
    assert json.loads(marker) == {"package": "setuptools_app"}
    assert "setuptools-app-hello = setuptools_app.config:hello" in scripts


def test_an_editable_install_serves_from_its_source_folder(
    tmp_path: Path, wheelhouse: Wheelhouse, venv: Venv
) -> None:
    project = copy_project(SAMPLE_PROJECT, tmp_path / "sample_project")
    with venv.installed("sample-app", "-e", project, wheelhouse=wheelhouse):
        assert not (project / "sample_app" / ".cache").exists()  # editable: no bake
        site = venv.site_packages()
        assert not (site / "sample_app").exists()  # the sources stay where they are
        run([venv.bin("fastapi-route"), "build", "--project", project], cwd=tmp_path)
        assert (project / "sample_app" / ".cache" / "routes.dat").is_file()

        command = [venv.bin("fastapi-route"), "run", "--host", "127.0.0.1", "--port", "{port}"]
        with serving(command, cwd=project, ready="/health") as server:
            me = get_json(server, "/users/me")
            assert isinstance(me, dict)
            assert me["me"] is True
            imported = run([venv.python, "-c", "import sample_app; print(sample_app.__file__)"],
                           cwd=tmp_path).stdout
            assert Path(imported.strip()).parent == project / "sample_app"


def find_uv(venv: Venv, wheelhouse: Wheelhouse) -> Path:
    """uv from PATH, else from PyPI (the package ships its binary) into the module's venv."""
    found = shutil.which("uv")
    if found:
        return Path(found)
    try:
        venv.install("uv", wheelhouse=wheelhouse)
    except AssertionError as exc:
        pytest.skip(f"uv is not on PATH and `pip install uv` failed:\n{exc}")
    return venv.bin("uv")


def test_uv_build_bakes_the_cache_with_our_wheel(
    tmp_path: Path, wheelhouse: Wheelhouse, venv: Venv
) -> None:
    uv = find_uv(venv, wheelhouse)
    project = copy_project(SAMPLE_PROJECT, tmp_path / "sample_project")
    result = run(
        [uv, "build", "--build-constraint", wheelhouse.constraints,
         "--find-links", wheelhouse.folder, "--out-dir", tmp_path / "dist", project],
        cwd=tmp_path,
        env={"UV_PYTHON": sys.executable, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
             "UV_NO_PROGRESS": "1"},
    )
    assert "fastapi-route: baked" in result.stdout
    sdist = sdist_names(only(tmp_path / "dist", "sample_app-1.0.0.tar.gz"))
    assert not [n for n in sdist if ".cache" in n]
    names = wheel_names(only(tmp_path / "dist", "sample_app-1.0.0-py3-none-any.whl"))
    assert {f"sample_app/{r}" for r in [*SAMPLE_ROUTES, *CACHE_FILES]} <= set(names)
    assert "sample_app-1.0.0.dist-info/extra_metadata/fastapi_route_app.json" in names


def test_the_readmes_wheel_commands_as_written(tmp_path: Path, empty_dir: Path) -> None:
    """"Shipping an app as a wheel", command by command: our wheel built in a checkout with
    `python -m build --wheel -o wheelhouse`, the README's `myapp` (its pyproject.toml block as
    written) built with `PIP_FIND_LINKS=$WHEELHOUSE python -m build`, installed into a fresh
    venv with `pip install --find-links $WHEELHOUSE dist/myapp-*.whl`, then `fastapi-route run`
    from an empty folder. No constraints file: fastapi-route>=0.5.0 can come from nowhere but
    the wheelhouse (the index holds 0.2.1), and the test checks that it did."""
    from test_readme import blocks, section, shipping_commands

    checkout = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT, checkout, ignore=shutil.ignore_patterns(
        ".git", ".nox", ".venv", "wheelhouse", "dist", "build", "__pycache__", "*.egg-info",
        ".cache", ".mypy_cache", ".ruff_cache", ".pytest_cache"))
    app = tmp_path / "myapp"
    (toml,) = blocks(section("Shipping an app as a wheel"), "toml")
    write_tree(app, {
        "pyproject.toml": toml,
        "myapp/__init__.py": "",
        "myapp/config.py": 'app_name = "My app"\n',
        "myapp/routes/index.py": "def GET(request):\n    return {'hello': 'myapp'}\n",
        "myapp/routes/jobs/route.py": "def POST(request):\n    return {'queued': True}, 202\n",
    })
    venv = Venv(tmp_path / "server-env")
    env: dict[str, str] = {}

    def expand(arg: str) -> str:
        return re.sub(r"\$(\w+)", lambda m: env[m.group(1)], arg)

    commands = shipping_commands()
    assert [c[0] for c in commands][:2] == ["python", "export"], commands
    server_command: list[str] | None = None
    for command in commands:
        assignments = {}
        while "=" in command[0] and not command[0].startswith("-"):
            name, value = command.pop(0).split("=", 1)
            assignments[name] = expand(value.replace("$PWD", str(checkout)))
        if command[0] == "export":
            name, value = command[1].split("=", 1)
            env[name] = value.replace("$PWD", str(checkout))
            continue
        args = [expand(a) for a in command]
        if args[0] == "python" and "--wheel" in args:  # in the checkout
            run([sys.executable, *args[1:]], cwd=checkout)
        elif args[0] == "python":  # in the app's folder
            run([sys.executable, *args[1:]], cwd=app, env=assignments)
        elif args[:2] == ["pip", "install"]:
            wheels = [str(only(app, a)) if "*" in a else a for a in args[2:]]
            run([venv.python, "-m", "pip", "install", *wheels], cwd=app, env=assignments)
        else:
            assert args[0] == "fastapi-route", args
            server_command = args
    assert server_command is not None

    ours = only(checkout / "wheelhouse", "fastapi_route-*-py3-none-any.whl").name.split("-")[1]
    assert only(app / "dist", "myapp-1.0.0-py3-none-any.whl")
    installed = run([venv.python, "-c", "import fastapi_route as f; print(f.__version__)"],
                    cwd=empty_dir).stdout.strip()
    assert installed == ours

    command = [venv.bin("fastapi-route"), *server_command[1:]]
    command[command.index("--port") + 1] = "{port}"
    with serving(command, cwd=empty_dir, ready="/") as server:
        assert get_json(server, "/") == {"hello": "myapp"}
        assert server.request("POST", "/jobs")[0] == 202
        document = get_json(server, "/openapi.json")
        assert isinstance(document, dict)
        assert list(document["paths"]["/jobs"]["post"]["responses"]) == ["202"]
