"""What the README says is what happens (issue 17, part 9), read from the README itself:
its config.py block names every setting, its bind addresses are the ones `dev` and `run` use,
its `routes --tree` transcript is the sample app's, its wheel commands fit the wheel hatchling
makes, and its test command says what nox skips (and nox says it too).

The wheel commands themselves run end to end in tests/test_packaging_e2e.py.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fastapi_route.serving import DEV_HOST, RUN_HOST
from fastapi_route.settings import SECTIONS, SIMPLE_KEYS

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
TEXT = README.read_text(encoding="utf-8")


def section(title: str, text: str = TEXT) -> str:
    """The README's section under the heading `title` (any level), up to the next heading
    (a `#` line inside a code block is no heading)."""
    lines, inside, fenced = [], False, False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        heading = not fenced and re.match(r"#+ ", line)
        if heading and inside:
            break
        if inside:
            lines.append(line)
        if heading and line.rstrip("\n").split(" ", 1)[1] == title:
            inside = True
    assert inside, f"README has no section {title!r}"
    return "".join(lines)


def blocks(text: str, language: str = "") -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def flat(text: str) -> str:
    return " ".join(text.split())


def our_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    main = "import sys; from fastapi_route.cli import main; sys.argv[0] = 'fastapi-route'; main()"
    return subprocess.run([sys.executable, "-c", main, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8", check=False)


# --------------------------------------------------------------------- config.py


def test_the_config_block_names_every_setting() -> None:
    (block,) = blocks(section("config.py"), "python")
    for name in [*SIMPLE_KEYS, *SECTIONS]:
        assert re.search(rf"\b{name}\b", block), f"README's config.py block lacks {name!r}"
    assert re.search(r"^lazy = False", block, re.MULTILINE)


def test_the_readme_says_which_command_binds_what() -> None:
    said = flat(section("config.py"))
    assert f"`fastapi-route dev` binds `{DEV_HOST}`" in said
    assert f"`fastapi-route run` binds `{RUN_HOST}`" in said
    assert '`server["host"]` is the address both `dev` and `run` bind' in said
    # The example shows no host that one of them would not bind by default.
    (block,) = blocks(section("config.py"), "python")
    assert '"host":' not in block


# --------------------------------------------------------------------- routes --tree


def test_the_tree_transcript_is_the_sample_apps() -> None:
    """The transcript after "The sample app:" is what its `$ ` line prints, run here."""
    cli = section("CLI")
    transcript = next(b for b in blocks(cli) if b.startswith("$ fastapi-route routes --tree"))
    command, expected = transcript.split("\n", 1)
    args = shlex.split(command.removeprefix("$ fastapi-route "))
    result = our_cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


def test_the_sample_projects_readme_lists_every_url() -> None:
    result = our_cli("routes", "--json", "--project", "sample_project")
    assert result.returncode == 0, result.stderr
    listed = flat((REPO / "sample_project" / "README.md").read_text(encoding="utf-8"))
    for route in json.loads(result.stdout):
        assert route["path"] in listed, f"sample_project/README.md omits {route['path']}"


# --------------------------------------------------------------------- the wheel


def shipping_commands() -> list[list[str]]:
    """The README's commands for shipping an app, in order, as argument lists (comments and
    line continuations dropped); an environment assignment stays in front."""
    commands = []
    for block in blocks(section("Shipping an app as a wheel"), "sh"):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line:
                commands.append(shlex.split(line))
    return commands


def test_the_install_command_fits_the_wheels_hatchling_makes() -> None:
    (toml,) = blocks(section("Shipping an app as a wheel"), "toml")
    project = tomllib.loads(toml)["project"]
    installs = [c for c in shipping_commands() if c[:2] == ["pip", "install"]]
    assert len(installs) == 1, installs
    pattern = next(arg for arg in installs[0] if arg.endswith(".whl"))
    name, version = project["name"], project["version"]
    for tag in ("py3-none-any", "py2.py3-none-any"):  # with requires-python, without it
        assert fnmatch.fnmatch(f"dist/{name}-{version}-{tag}.whl", pattern), pattern


def test_the_readme_builds_our_wheel_and_points_pip_at_it() -> None:
    """fastapi-route>=0.5 is not on the index (SPEC 8): the commands say where it comes from."""
    commands = [" ".join(c) for c in shipping_commands()]
    assert "python -m build --wheel -o wheelhouse" in commands
    assert any(c.startswith("PIP_FIND_LINKS=$WHEELHOUSE python -m build") for c in commands)
    assert any("--find-links $WHEELHOUSE" in c for c in commands if c.startswith("pip install"))
    said = flat(section("Shipping an app as a wheel"))
    assert "0.2.1" in said


# --------------------------------------------------------------------- nox


def test_the_readme_says_which_pythons_nox_looks_for_and_what_it_skips() -> None:
    said = flat(section("Set-up"))
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert version in said
    assert "skips" in said and "`minimum` (3.10) does not run" in said
    assert "PYENV_VERSION=3.10:3.11:3.12:3.13" in said


FAKE_NOX = """
class options:
    pass

def session(*args, **kwargs):
    return lambda func: func

class Session:
    pass
"""


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (["3.11"], "nox: Python 3.10, 3.12, 3.13 not found on PATH, so these are skipped: "
                   "tests-3.10, tests-3.12, tests-3.13, minimum."),
        (["3.10", "3.12", "3.13"], "tests-3.11, the slow tests (run on 3.11 only)"),
        (["3.10", "3.11", "3.12", "3.13"], None),
    ],
)
def test_nox_says_first_which_pythons_it_skips(
    tmp_path: Path, present: list[str], expected: str | None
) -> None:
    """A `python3.X` that is on PATH but does not run (a pyenv shim of a version not selected)
    counts as missing, as it does for nox."""
    (tmp_path / "nox.py").write_text(FAKE_NOX, encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for version in ("3.10", "3.11", "3.12", "3.13"):
        script = bin_dir / f"python{version}"
        code = 0 if version in present else 127
        script.write_text(f"#!/bin/sh\nexit {code}\n", encoding="utf-8")
        script.chmod(0o755)
    env = {"PATH": str(bin_dir), "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import runpy; runpy.run_path('noxfile.py')"], cwd=REPO,
        env=env, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    if expected is None:
        assert result.stderr == ""
    else:
        first = result.stderr.splitlines()[0]
        assert expected in first, first
        assert "PYENV_VERSION=3.10:3.11:3.12:3.13" in first


def test_the_lambda_handler_example_answers_as_it_says(tmp_path: Path) -> None:
    """The AWS Lambda section's local try: its event, through the handler, against the sample
    app built in a copy, in a fresh interpreter; it prints what the README says it prints."""
    text = section("AWS Lambda")
    said = re.search(r"Trying it locally:.*?prints\s+`([^`]+)`", text, re.DOTALL)
    assert said is not None
    fenced = re.search(r"^  ```python\n(.*?)^  ```", text, re.MULTILINE | re.DOTALL)
    assert fenced is not None  # the list item's code block
    script = textwrap.dedent(fenced.group(1))
    shutil.copytree(REPO / "sample_project", tmp_path / "sample_project",
                    ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    assert our_cli("build", "--project", "sample_project", cwd=tmp_path).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTAPI_ROUTE_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == said.group(1)
