"""Issue 17.9: the environment variables mean for the `fastapi-route` command what the README
says (FASTAPI_ROUTE_PROJECT as --project, FASTAPI_ROUTE_APP as --app, FASTAPI_ROUTE_STRICT as
run --strict, FASTAPI_ROUTE_SCHEDULE as run --eager/--lazy); a flag wins; a bad value is an
error with exit 1; and a wrong project's hint names what named it (the variable or the flag)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import write_tree
from test_asgi import call_lifespan

import fastapi_route.asgi as asgi
from fastapi_route.asgi import DeferredApp, project_from_env
from fastapi_route.cli import main
from fastapi_route.errors import ProjectNotFound

VARIABLES = (asgi.ENV_PROJECT, asgi.ENV_APP, asgi.ENV_STRICT, asgi.ENV_SCHEDULE,
             asgi.ENV_SUPERVISOR)
TREE = {
    "routes/index.py": "def GET(request):\n    return {}\n",
    "routes/users/route.py": "def GET(request):\n    return []\n",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARIABLES:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    elsewhere = tmp_path / "elsewhere"  # no project in the current folder
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "app", TREE)
    result = CliRunner().invoke(main, ["build", "--project", str(root)])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """uvicorn.run replaced: what the variables were while `run` served."""
    import uvicorn

    seen: dict[str, Any] = {}

    def run(target: object, **settings: Any) -> None:
        seen.update({name: os.environ.get(name) for name in VARIABLES}, target=target)

    monkeypatch.setattr(uvicorn, "run", run)
    return seen


def invoke(*args: str, **env: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


# --- FASTAPI_ROUTE_PROJECT and FASTAPI_ROUTE_APP: as --project and --app ------------------------


def test_the_project_variable_names_the_project(built: Path) -> None:
    result = invoke("status", FASTAPI_ROUTE_PROJECT=str(built))
    assert result.exit_code == 0, result.output
    assert f"Project: {built.resolve()} (FASTAPI_ROUTE_PROJECT)" in result.output


def test_the_project_flag_wins_over_the_variable(built: Path, tmp_path: Path) -> None:
    result = invoke("status", "--project", str(built),
                    FASTAPI_ROUTE_PROJECT=str(tmp_path / "nowhere"))
    assert result.exit_code == 0, result.output
    assert f"Project: {built.resolve()} (--project)" in result.output


def test_the_app_variable_names_an_installed_app() -> None:
    result = invoke("status", FASTAPI_ROUTE_APP="not_an_app_anywhere")
    assert result.exit_code == 1, result.output
    assert "no installed package named 'not_an_app_anywhere'" in result.output
    assert "FASTAPI_ROUTE_PROJECT" in result.output and "--project" not in result.output


# --- FASTAPI_ROUTE_SCHEDULE and FASTAPI_ROUTE_STRICT: as run's flags ----------------------------


@pytest.mark.parametrize(("env", "flags", "schedule"), [
    ("lazy", (), "lazy"),
    ("eager", (), "eager"),
    ("lazy", ("--eager",), "eager"),  # the flag wins
    ("eager", ("--lazy",), "lazy"),
    ("", (), None),  # unset: config.py decides
])
def test_run_takes_its_schedule_from_the_variable(
    built: Path, served: dict[str, Any], env: str, flags: tuple[str, ...], schedule: str | None,
) -> None:
    result = invoke("run", "--project", str(built), *flags, FASTAPI_ROUTE_SCHEDULE=env)
    assert result.exit_code == 0, result.output
    assert served[asgi.ENV_SCHEDULE] == schedule  # what run served, and exported


def test_a_schedule_that_is_not_one_is_an_error(built: Path, served: dict[str, Any]) -> None:
    result = invoke("run", "--project", str(built), FASTAPI_ROUTE_SCHEDULE="bogus")
    assert result.exit_code == 1, result.output
    assert "FASTAPI_ROUTE_SCHEDULE='bogus' is not a schedule" in result.output
    assert "Traceback" not in result.output
    assert not served  # never served


def test_run_takes_strict_from_the_variable(built: Path, served: dict[str, Any]) -> None:
    write_tree(built, {"routes/new/route.py": "def GET(request):\n    return {}\n"})
    result = invoke("run", "--project", str(built), FASTAPI_ROUTE_STRICT="1")
    assert result.exit_code == 1, result.output
    assert "stale" in result.output
    assert not served
    relaxed = invoke("run", "--project", str(built), FASTAPI_ROUTE_STRICT="0")
    assert relaxed.exit_code == 0, relaxed.output
    assert served[asgi.ENV_STRICT] is None


def test_a_strict_value_that_is_not_yes_or_no_is_an_error(
    built: Path, served: dict[str, Any],
) -> None:
    result = invoke("run", "--project", str(built), FASTAPI_ROUTE_STRICT="maybe")
    assert result.exit_code == 1, result.output
    assert "FASTAPI_ROUTE_STRICT='maybe' is not a yes/no value" in result.output
    assert not served


# --- a wrong project: the hint names what named it ---------------------------------------------


def test_a_wrong_project_variable_hints_at_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(asgi.ENV_PROJECT, str(tmp_path / "nowhere"))
    with pytest.raises(ProjectNotFound) as failed:
        project_from_env()
    assert "FASTAPI_ROUTE_PROJECT" in failed.value.hint
    assert "--project" not in str(failed.value)
    # Under a server, as its lifespan's failure; under the CLI, the same hint.
    sent = asyncio.run(call_lifespan(DeferredApp()))
    assert "FASTAPI_ROUTE_PROJECT" in sent[0]["message"]
    assert "--project" not in sent[0]["message"]
    result = invoke("run")
    assert result.exit_code == 1
    assert "FASTAPI_ROUTE_PROJECT" in result.output and "--project" not in result.output


def test_no_project_at_all_hints_at_the_variables_under_a_server() -> None:
    with pytest.raises(ProjectNotFound) as failed:
        project_from_env()  # nothing in the current folder, no variable
    assert "FASTAPI_ROUTE_PROJECT" in failed.value.hint
    assert "--project" not in str(failed.value)


def test_a_wrong_project_flag_hints_at_the_flag(tmp_path: Path) -> None:
    result = invoke("run", "--project", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "--project" in result.output and "FASTAPI_ROUTE_PROJECT" not in result.output
