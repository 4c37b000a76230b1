"""The CLI: build / status / clean / routes / init / custom commands, through click and as
real processes for the concurrency checks."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from fastapi_route.cli import main
from fastapi_route.console import colour_enabled

TREE = {
    "config.py": (
        'app_name = "Tiny"\n'
        'commands = {"where": "echo port={server.port} name={app_name}"}\n'
    ),
    "routes/index.py": "def GET(request):\n    return {}\n",
    "routes/users/route.py": "def GET(request):\n    return []\n",
    "routes/users/me/route.py": "def GET(request):\n    return {}\n",
    "routes/users/[user_id]/route.py": "def GET(request, user_id: int):\n    return {}\n",
    "routes/(auth)/login/route.py": "def POST(request):\n    return {}\n",
}


def cli(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--project", str(root)])
    return result.exit_code, result.output


def test_build_prints_steps_and_summary(project):
    root = project(TREE)
    code, out = cli(root, "build")
    assert code == 0, out
    for text in ("[1/5] Loaded configuration", "[5/5] Saved", "BUILD SUMMARY",
                 "Build time:", "Compression ratio:", "Build succeeded."):
        assert text in out
    assert "Total routes:      5" in out
    assert "Static routes:     4" in out
    assert "Dynamic routes:    1" in out


def test_build_failure_lists_every_problem_and_exits_1(project):
    root = project({
        **TREE,
        "routes/a/route.py": "def GET(request):\n    pass\n\nasync def GET(request):\n    pass\n",
        "routes/b/route.py": "def GET(:\n",
        "routes/c/route.py": "def GET():\n    pass\n",
    })
    code, out = cli(root, "build")
    assert code == 1
    assert "DUPLICATE_METHOD routes/a/route.py:4" in out
    assert "SYNTAX_ERROR routes/b/route.py:1" in out
    assert "INVALID_HANDLER routes/c/route.py:1" in out
    assert "hint:" in out
    assert "Traceback" not in out
    assert not (root / ".cache").exists()


def test_bad_config_exits_1_naming_file_line_and_key(project):
    root = project({**TREE, "config.py": 'app_name = "x"\n\nbuild = {"compression_level": 10}\n'})
    code, out = cli(root, "build")
    assert code == 1
    assert "config.py:3" in out and "build.compression_level" in out
    assert "Traceback" not in out


def test_bad_flag_exits_1(project):
    code, out = cli(project(TREE), "build", "--compression", "10")
    assert code == 1
    assert "10 is not in the range 1<=x<=9" in out


def test_compression_flag_overrides_config(project):
    root = project(TREE)
    assert cli(root, "build", "--compression", "9")[0] == 0
    manifest = json.loads((root / ".cache" / "manifest.json").read_text())
    assert manifest["compression_level"] == 9


def test_status_without_build_exits_1(project):
    code, out = cli(project(TREE), "status")
    assert code == 1
    assert "Status:     Not built" in out
    assert "No valid build found. Run 'fastapi-route build' first." in out


def test_status_block_after_build(project):
    root = project(TREE)
    cli(root, "build")
    code, out = cli(root, "status")
    assert code == 0, out
    assert "BUILD STATUS" in out
    for label in ("Status:", "Created:", "Total routes:", "Static routes:", "Dynamic routes:",
                  "Cache size:", "Cache path:", "Stale:"):
        assert label in out
    assert "Built" in out and "Stale:          no" in out
    assert str(root / ".cache") in out


def test_status_json(project):
    root = project(TREE)
    cli(root, "build")
    code, out = cli(root, "status", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "Built" and data["valid"] is True and data["stale"] is False
    assert data["total_routes"] == 5


def test_status_reports_stale_and_names_the_file(project):
    root = project(TREE)
    cli(root, "build")
    (root / "routes" / "new").mkdir()
    (root / "routes" / "new" / "route.py").write_text("def GET(request):\n    return {}\n")
    code, out = cli(root, "status")
    assert code == 0
    assert "Stale:          yes - added: routes/new/route.py" in out


def test_status_refuses_a_corrupt_cache(project):
    root = project(TREE)
    cli(root, "build")
    data = root / ".cache" / "routes.dat"
    data.write_bytes(data.read_bytes()[:-3])
    code, out = cli(root, "status")
    assert code == 1
    assert "Invalid" in out and "corrupt or was tampered with" in out
    assert "fastapi-route clean && fastapi-route build --force" in out


def test_clean(project):
    root = project(TREE)
    cli(root, "build")
    code, out = cli(root, "clean")
    assert code == 0 and "Removed" in out
    assert not (root / ".cache").exists()
    assert cli(root, "clean") == (0, f"Nothing to clean: {root / '.cache'} does not exist.\n")


def test_routes_lists_precedence_order(project):
    code, out = cli(project(TREE), "routes")
    assert code == 0
    lines = [line.split() for line in out.splitlines()[1:-1]]
    assert [(m, u) for m, u, _ in lines] == [
        ("GET", "/"), ("POST", "/login"), ("GET", "/users"), ("GET", "/users/me"),
        ("GET", "/users/{user_id}"),
    ]
    assert lines[-1][2] == "routes/users/[user_id]/route.py:1"


def test_custom_command_substitutes_settings(project, monkeypatch):
    root = project(TREE)
    monkeypatch.chdir(root)
    runner = CliRunner()
    listed = runner.invoke(main, ["--help"])
    assert "where" in listed.output
    result = subprocess.run(
        [sys.executable, "-m", "fastapi_route", "where"], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "port=8000 name=Tiny" in result.stdout


def test_init_scaffolds_and_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["init", "api"]).exit_code == 0
    for rel in ("routes/index.py", "config.py", "public", ".gitignore"):
        assert (tmp_path / "api" / rel).exists()
    (tmp_path / "api" / "routes" / "index.py").write_text("# mine\n")
    again = runner.invoke(main, ["init", "api"])
    assert again.exit_code == 1 and "nothing was changed" in again.output
    assert (tmp_path / "api" / "routes" / "index.py").read_text() == "# mine\n"
    code, out = cli(tmp_path / "api", "build")
    assert code == 0, out


def test_missing_project_is_a_message(tmp_path):
    code, out = cli(tmp_path / "nowhere", "build")
    assert code == 1 and "is not a folder" in out


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_enabled(Tty())
    assert not colour_enabled(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_enabled(Tty())


def _run(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fastapi_route", *args, "--project", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.slow
def test_six_concurrent_builds_and_status_never_sees_half_a_cache(project):
    files = dict(TREE)
    for i in range(300):  # enough routes that a write takes a moment
        files[f"routes/area{i % 10}/item{i}/route.py"] = "def GET(request):\n    return {}\n"
    root = project(files)
    assert _run(root, "build").wait() == 0
    builders = [_run(root, "build", *(["--force"] if i % 2 else [])) for i in range(6)]
    statuses = 0
    while any(b.poll() is None for b in builders):
        probe = subprocess.run(
            [sys.executable, "-c",
             "import sys; from pathlib import Path; from fastapi_route.pipeline import cache; "
             "c = cache.load(Path(sys.argv[1])); print(len(c.routes))", str(root / ".cache")],
            capture_output=True, text=True,
        )
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.strip() == "305"
        statuses += 1
    for b in builders:
        out = b.communicate()[0]
        assert b.returncode == 0, out
    assert statuses >= 1
    cache = root / ".cache"
    assert sorted(p.name for p in cache.iterdir()) == [".gitignore", "manifest.json", "routes.dat"]
    code, out = cli(root, "status")
    assert code == 0, out


# A real `build` process that stops itself (SIGSTOP) right before or right after it renames
# `file` into the cache: the test then SIGKILLs it at exactly that point.
STOPPING_BUILD = """
import os, signal, sys
from fastapi_route.cli import main
when, file, root = sys.argv[1:]
real_replace = os.replace

def replace(src, dst, *args, **kwargs):
    ours = os.path.basename(os.fspath(dst)) == file
    if ours and when == "before":
        os.kill(os.getpid(), signal.SIGSTOP)
    real_replace(src, dst, *args, **kwargs)
    if ours and when == "after":
        os.kill(os.getpid(), signal.SIGSTOP)

os.replace = replace
main(["build", "--project", root])
"""


def _status(root: Path) -> dict[str, object]:
    result = CliRunner().invoke(main, ["status", "--json", "--project", str(root)])
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP and SIGKILL are POSIX")
@pytest.mark.parametrize(("when", "file", "tree_changes", "left"), [
    ("before", "manifest.json", False, "old"),  # the new manifest is a temp file still
    ("after", "manifest.json", False, "new"),
    ("before", "routes.dat", True, "none"),  # new data, so the old manifest was retracted
    ("after", "routes.dat", True, "none"),  # new data, no manifest yet
])
def test_killed_build_leaves_old_cache_and_next_build_cleans_up(
    project, monkeypatch, when, file, tree_changes, left,
):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)  # a rebuild must write other bytes
    root = project(TREE)
    cache = root / ".cache"
    assert _run(root, "build").wait() == 0
    before = (cache / "manifest.json").read_bytes()
    old = _status(root)
    assert old["status"] == "Built" and old["total_routes"] == 5, old
    if tree_changes:
        (root / "routes" / "extra").mkdir()
        (root / "routes" / "extra" / "route.py").write_text("def GET(request):\n    return {}\n")

    log = root.parent / "stopping-build.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", STOPPING_BUILD, when, file, str(root)],
                                stdout=out, stderr=subprocess.STDOUT)
    _, stopped = os.waitpid(proc.pid, os.WUNTRACED)  # returns once the build stopped itself
    assert os.WIFSTOPPED(stopped), (stopped, log.read_text())
    temps = sorted(p.name for p in cache.glob(".*.tmp"))
    if when == "before":  # the staged file being renamed in is there, complete
        staged = [t for t in temps if t.startswith(f".{file}.") and t != f".{file}.old.tmp"]
        assert len(staged) == 1, temps
        if not tree_changes:  # nothing else was touched: the old pair stands
            assert temps == staged, temps
    proc.kill()
    assert proc.wait() == -signal.SIGKILL

    # What a reader sees now: the old build (byte for byte), the new one, or - when the data
    # had changed - no build. Never a half-written or mismatched pair.
    now = _status(root)
    if left == "old":
        assert now["status"] == "Built" and (cache / "manifest.json").read_bytes() == before
    elif left == "new":
        assert now["status"] == "Built" and (cache / "manifest.json").read_bytes() != before
        built_at = [datetime.fromisoformat(str(s["created_at"])) for s in (old, now)]
        assert built_at[1] > built_at[0], built_at
        assert now["routes_sha256"] == old["routes_sha256"], now
    else:
        assert now["status"] == "Not built", now
        assert not (cache / "manifest.json").exists()
    assert sorted(p.name for p in cache.glob(".*.tmp")) == temps

    (cache / ".routes.dat.dead.tmp").write_bytes(b"half")  # and one more writer died mid-way
    assert _run(root, "build").wait() == 0
    assert sorted(p.name for p in cache.iterdir()) == [".gitignore", "manifest.json", "routes.dat"]
    after = _status(root)
    assert after["status"] == "Built" and after["stale"] is False, after
    assert after["total_routes"] == (6 if tree_changes else 5)


def test_unreadable_config_is_a_message(project):
    root = project(TREE)
    (root / "config.py").write_bytes(b"app_name = '\xff\xfe'\n")
    code, out = cli(root, "build")
    assert code == 1 and "cannot read config.py" in out and "Traceback" not in out


def test_custom_commands_of_the_project_named_by_flag(project, tmp_path, monkeypatch):
    root = project(TREE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    listed = CliRunner().invoke(main, ["--help", "--project", str(root)])
    assert "where" in listed.output
    result = subprocess.run(
        [sys.executable, "-m", "fastapi_route", "where", "--project", str(root)],
        cwd=elsewhere, capture_output=True, text=True,
    )
    assert result.returncode == 0 and "port=8000 name=Tiny" in result.stdout
    missing = CliRunner().invoke(main, ["where"])
    assert missing.exit_code != 0 and "Traceback" not in missing.output


@pytest.mark.parametrize("workers", [1, 3])
def test_run_hands_uvicorn_each_setting_once(project, monkeypatch, workers):
    import uvicorn

    root = project({**TREE, "config.py": 'server = {"log_level": "debug", "port": 9000}\n'})
    assert cli(root, "build")[0] == 0
    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: seen.update(kw, target=target))
    code, out = cli(root, "run", "--workers", str(workers))
    assert code == 0, out
    assert seen["log_level"] == "debug" and seen["port"] == 9000 and seen["host"] == "0.0.0.0"
    assert seen["workers"] == workers
    assert seen["factory"] is False  # one process: the app; workers: fastapi_route.asgi:app
    assert (seen["target"] == "fastapi_route.asgi:app") is (workers > 1)


def test_server_options_it_sets_itself_fail_the_build_and_run(project):
    root = project({**TREE, "config.py": 'server = {"factory": True}\n'})
    for command in ("build", "run"):
        code, out = cli(root, command)
        assert code == 1 and "INVALID_CONFIG config.py:1 'server.factory'" in out, out
        assert "Traceback" not in out
