"""The CLI's edges: where --project goes, usage errors, init's folder, what `run` and `status`
say about the project they chose, build's steps as they happen, and the README's config.py
examples (which must load)."""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from fastapi_route.cli import main
from fastapi_route.config import load_config
from fastapi_route.console import ScanProgress
from fastapi_route.errors import ConfigError
from fastapi_route.pipeline.build import build
from fastapi_route.pipeline.scan import scan
from fastapi_route.settings import BUILTIN_COMMANDS

README = Path(__file__).resolve().parents[1] / "README.md"
ROUTE = "def GET(request):\n    return {}\n"
TREE = {
    "config.py": 'app_name = "Edges"\ncommands = {"where": "echo port={server.port}"}\n',
    "routes/index.py": ROUTE,
    "routes/users/[user_id]/route.py": "def GET(request, user_id: int):\n    return {}\n",
}
Project = Callable[[Mapping[str, str]], Path]


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args))


# --------------------------------------------------------------------- --project / --app


@pytest.mark.parametrize("command", ["build", "status", "routes", "clean"])
@pytest.mark.parametrize("before", [True, False])
def test_project_before_or_after_every_command(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, before: bool
) -> None:
    root = project(TREE)
    assert invoke("build", "--project", str(root)).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    args = ["--project", str(root), command] if before else [command, "--project", str(root)]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("before", [True, False])
def test_custom_commands_listed_and_run_with_project_in_either_place(
    project: Project, tmp_path: Path, before: bool
) -> None:
    root = project(TREE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    flag = ["--project", str(root)]
    for help_args in (["--help", *flag], [*flag, "--help"]):
        listed = CliRunner().invoke(main, help_args)
        assert listed.exit_code == 0 and "where" in listed.output, listed.output
    own_help = invoke(*([*flag, "where", "--help"] if before else ["where", "--help", *flag]))
    assert own_help.exit_code == 0 and "echo port={server.port}" in own_help.output
    args = [*flag, "where"] if before else ["where", *flag]
    ran = subprocess.run([sys.executable, "-m", "fastapi_route", *args], cwd=elsewhere,
                         capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert "port=8000" in ran.stdout


def test_project_option_without_a_value_is_a_usage_error(project: Project) -> None:
    result = invoke("status", "--project")
    assert result.exit_code == 1
    assert "--project" in result.output and "requires an argument" in result.output


def test_the_last_project_option_wins(project: Project, tmp_path: Path) -> None:
    root = project(TREE)
    result = invoke("--project", str(tmp_path / "nowhere"), "routes", "--project", str(root))
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "args", [["--bogus"], ["--bogus", "build"], ["build", "--bogus"], ["nosuchcommand"]]
)
def test_every_usage_error_exits_1_with_clicks_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert "Error: No such" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------- init


@pytest.mark.parametrize("before", [True, False])
def test_init_creates_the_project_in_the_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "deep" / "api"
    args = ["--project", str(target), "init"] if before else ["init", "--project", str(target)]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert (target / "routes" / "index.py").is_file()
    assert (target / "config.py").is_file()
    assert not (tmp_path / "routes").exists()  # not silently in the current folder


def test_init_name_and_project_together_is_an_error_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("init", "api", "--project", str(tmp_path / "other"))
    assert result.exit_code == 1
    assert "both" in result.output and "hint:" in result.output
    assert not (tmp_path / "api").exists() and not (tmp_path / "other").exists()


def test_init_refuses_an_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("init", "--app", "myapp")
    assert result.exit_code == 1 and "hint:" in result.output
    assert not (tmp_path / "routes").exists()


# --------------------------------------------------------------------- custom commands


def test_server_host_in_a_command_is_the_address_run_binds(project: Project) -> None:
    root = project({**TREE, "config.py": 'commands = {"where": "echo host={server.host}"}\n'})
    ran = subprocess.run([sys.executable, "-m", "fastapi_route", "where", "--project", str(root)],
                         capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert "host=0.0.0.0" in ran.stdout and "None" not in ran.stdout


@pytest.mark.parametrize("name", BUILTIN_COMMANDS)
def test_a_command_named_like_a_built_in_is_a_config_error(project: Project, name: str) -> None:
    root = project({**TREE, "config.py": f'app_name = "x"\n\ncommands = {{"{name}": "echo"}}\n'})
    result = invoke("routes", "--project", str(root))
    assert result.exit_code == 1
    assert f"INVALID_CONFIG config.py:3 'commands.{name}' is a built-in command" in result.output
    assert "Traceback" not in result.output


def test_builtin_commands_list_matches_the_cli() -> None:
    assert set(BUILTIN_COMMANDS) == set(main.commands)


# --------------------------------------------------------------------- uvicorn options


def test_a_server_option_uvicorn_lacks_fails_the_build(project: Project) -> None:
    root = project({**TREE, "config.py": 'debug = False\nserver = {"prot": 9000}\n'})
    result = invoke("build", "--project", str(root))
    assert result.exit_code == 1
    assert "INVALID_CONFIG config.py:2 'server.prot' is not a uvicorn setting" in result.output
    assert not (root / ".cache").exists()


def test_a_server_option_fastapi_route_sets_fails_the_build(project: Project) -> None:
    root = project({**TREE, "config.py": 'server = {"factory": True, "reload_delay": 1.0}\n'})
    result = invoke("build", "--project", str(root))
    assert result.exit_code == 1
    assert "INVALID_CONFIG config.py:1 'server.factory' is set by fastapi-route" in result.output
    assert "'server.reload_delay' is set by fastapi-route" in result.output


# --------------------------------------------------------------------- which project


def status_first_line(*args: str) -> str:
    result = invoke("status", *args)
    return result.output.splitlines()[0]


def test_status_says_the_project_came_from_the_current_folder(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(TREE)
    monkeypatch.chdir(root)
    assert status_first_line() == f"Project: {root.resolve()} (the current folder)"


def test_status_says_the_project_came_from_the_flag(project: Project) -> None:
    root = project(TREE)
    assert status_first_line("--project", str(root)) == f"Project: {root.resolve()} (--project)"


def test_status_names_the_installed_app_it_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulated: a package on sys.path that the (patched) metadata calls an installed app.
    site = tmp_path / "site"
    for rel, text in {"myapp/__init__.py": "", "myapp/routes/index.py": ROUTE}.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr("fastapi_route.project.installed_apps", lambda: {"myapp-dist": "myapp"})
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    root = (site / "myapp").resolve()
    assert status_first_line() == f"Project: {root} (installed app myapp, distribution myapp-dist)"
    assert status_first_line("--app", "myapp-dist") == f"Project: {root} (--app myapp-dist)"


def test_status_json_says_where_the_project_came_from(project: Project) -> None:
    import json

    root = project(TREE)
    assert invoke("build", "--project", str(root)).exit_code == 0
    data = json.loads(invoke("status", "--json", "--project", str(root)).output)
    assert data["project"] == str(root.resolve()) and data["found_by"] == "--project"


def test_run_says_which_project_it_serves(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    root = project(TREE)
    assert invoke("build", "--project", str(root)).exit_code == 0
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: None)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # run exports the project for workers
    monkeypatch.chdir(root)
    result = invoke("run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"Project: {root.resolve()} (the current folder)"


# --------------------------------------------------------------------- build steps


def printed_so_far() -> str:
    """What the command under CliRunner has printed until now."""
    sys.stdout.flush()
    return sys.stdout.buffer.getvalue().decode()  # type: ignore[attr-defined]


def test_build_prints_each_step_as_it_happens(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi_route.pipeline import codec, store

    root = project(TREE)
    seen: dict[str, str] = {}
    real_encode, real_save = codec.encode, store.save

    def encode(*args: Any, **kwargs: Any) -> Any:
        seen["encode"] = printed_so_far()
        return real_encode(*args, **kwargs)

    def save(*args: Any, **kwargs: Any) -> Any:
        seen["save"] = printed_so_far()
        return real_save(*args, **kwargs)

    monkeypatch.setattr(codec, "encode", encode)
    monkeypatch.setattr(store, "save", save)
    result = invoke("build", "--project", str(root))
    assert result.exit_code == 0, result.output
    steps = re.findall(r"\[(\d)/5\] (.+?) {2,}", result.output)
    assert steps == [("1", "Loaded configuration"), ("2", "Scanned routes"), ("3", "Validated"),
                     ("4", "Compressed"), ("5", "Saved")]
    # Each step is on the screen before the next, slower one has finished.
    assert "[3/5] Validated" in seen["encode"] and "[4/5]" not in seen["encode"]
    assert "[4/5] Compressed" in seen["save"] and "[5/5]" not in seen["save"]


def test_a_failed_build_still_shows_the_steps_it_got_through(project: Project) -> None:
    root = project({**TREE, "routes/bad/route.py": "def GET(:\n"})
    result = invoke("build", "--project", str(root))
    assert result.exit_code == 1
    assert "[2/5] Scanned routes" in result.output and "[3/5]" not in result.output
    assert "SYNTAX_ERROR routes/bad/route.py:1" in result.output


def test_build_reports_steps_and_files_to_its_callbacks(project: Project) -> None:
    root = project(TREE)
    steps: list[str] = []
    files: list[tuple[int, int]] = []
    build(root, load_config(root), on_step=lambda step, detail: steps.append(step),
          on_file=lambda done, total: files.append((done, total)))
    assert steps == ["Scanned routes", "Validated", "Compressed", "Saved"]
    assert files == [(1, 2), (2, 2)]


def test_scan_reports_each_file_read(project: Project) -> None:
    root = project(TREE)
    files: list[tuple[int, int]] = []
    scan(root, load_config(root), on_file=lambda done, total: files.append((done, total)))
    assert files == [(1, 2), (2, 2)]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "files", "drawn"), [
    (Tty, 1000, True), (Tty, 50, False), (io.StringIO, 1000, False),
])
def test_a_progress_bar_only_for_a_large_scan_on_a_terminal(
    stream: type[io.StringIO], files: int, drawn: bool
) -> None:
    out = stream()
    progress = ScanProgress(out)
    for done in range(1, files + 1):
        progress(done, files)
    progress.close()
    assert ("Scanning" in out.getvalue()) is drawn
    assert (f"{files}/{files}" in out.getvalue()) is drawn


def test_no_progress_bar_on_a_pipe(project: Project) -> None:
    files = dict(TREE)
    for i in range(250):
        files[f"routes/item{i}/route.py"] = ROUTE
    root = project(files)
    result = invoke("build", "--project", str(root))
    assert result.exit_code == 0, result.output
    assert "Scanning" not in result.output and "\r" not in result.output


# --------------------------------------------------------------------- README


def readme_config_examples() -> list[str]:
    """Every config.py example in the README: the python blocks of its `config.py` section
    and each inline assignment in a paragraph that speaks of `config.py`."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^### config\.py$(.*?)^#", text, re.MULTILINE | re.DOTALL)
    assert section is not None, "README has no config.py section"
    examples = re.findall(r"```python\n(.*?)```", section.group(1), re.DOTALL)
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    for paragraph in prose.split("\n\n"):
        if "config.py" not in paragraph:
            continue
        for span in re.findall(r"`([^`]+)`", paragraph):
            try:
                tree = ast.parse(span)
            except SyntaxError:
                continue
            if tree.body and all(isinstance(s, ast.Assign) for s in tree.body):
                examples.append(span)
    return examples


def test_readme_config_examples_load(tmp_path: Path) -> None:
    examples = readme_config_examples()
    assert len(examples) >= 3  # the block, the PORT example, `lazy = True`
    assert any("PORT" in e for e in examples)
    for example in examples:
        (tmp_path / "config.py").write_text("import os\n" + example, encoding="utf-8")
        try:
            load_config(tmp_path)
        except ConfigError as exc:
            pytest.fail(f"README's config.py example does not load:\n{example}\n{exc}")
