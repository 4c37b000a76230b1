"""Sessions: tests on every supported Python, lint, typecheck, minimum (and e2e, bench, demo).

A Python that is not installed on this machine is skipped, not failed, so the same
command works on a laptop with one interpreter and on CI with four.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.options.sessions = ["tests", "lint", "typecheck", "minimum"]
nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True


# The whole suite (end-to-end: wheels, virtualenvs, servers) runs on this Python; the others
# run everything but the `slow` tests, which keeps CI at a few minutes.
FULL_SUITE = "3.11"
MINIMUM_PYTHON = PYTHONS[0]


def runs(version: str) -> bool:
    """Whether `pythonX.Y` on PATH starts: a pyenv shim of a version that PYENV_VERSION (or
    .python-version) does not select is on PATH but does not run."""
    found = shutil.which(f"python{version}")
    if found is None:
        return False
    try:
        return subprocess.run([found, "-c", ""], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def skipped_message(missing: list[str]) -> str | None:
    """The line nox prints first when some of PYTHONS cannot run: what is skipped."""
    if not missing:
        return None
    sessions = [f"tests-{v}" for v in missing]
    if MINIMUM_PYTHON in missing:
        sessions.append("minimum")
    if FULL_SUITE in missing:
        sessions.append(f"the slow tests (run on {FULL_SUITE} only)")
    return (f"nox: Python {', '.join(missing)} not found on PATH, so these are skipped: "
            f"{', '.join(sessions)}. With pyenv: PYENV_VERSION={':'.join(PYTHONS)} nox ...")


_skipped = skipped_message([v for v in PYTHONS if not runs(v)])
if _skipped:
    print(_skipped, file=sys.stderr)


# What the tests need: the test tools, and the optional extras whose modules they test
# (`aws`: Mangum, for fastapi_route.aws).
TESTED = ".[test,aws]"


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite; end-to-end tests included on FULL_SUITE."""
    session.install("-e", TESTED)
    selection = [] if session.python == FULL_SUITE else ["-m", "not slow"]
    session.run("pytest", *(session.posargs or selection))


# `tests` gets the newest releases; this pins the oldest that `dependencies` allows, on the oldest
# Python we support, so a floor there is a tested promise rather than a guess.
MINIMUM_CONSTRAINTS = "tests/constraints-minimum.txt"


@nox.session(python=MINIMUM_PYTHON)
def minimum(session: nox.Session) -> None:
    """The fast suite against the floors of `dependencies` (FastAPI, Starlette, uvicorn, ...)."""
    # A constraints file, not requirements, so pip still resolves from pyproject.toml; `==` pins
    # also downgrade a reused virtualenv that an earlier run filled with newer releases.
    session.install("-c", MINIMUM_CONSTRAINTS, "-e", TESTED)
    session.run("pytest", *(session.posargs or ["-m", "not slow"]))


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run(
        "ruff", "check", "fastapi_route", "hatch_fastapi_route", "setuptools_fastapi_route",
        "tests", "bench", "noxfile.py",
    )


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    session.install("-e", TESTED, "mypy>=1.11")  # hatchling and setuptools for the plugins
    session.run("mypy")


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """Build the sample project's cache, show its status, and serve it on port 8000."""
    session.install("-e", ".")
    session.run("fastapi-route", "build", "--project", "sample_project")
    session.run("fastapi-route", "status", "--project", "sample_project")
    session.run("fastapi-route", "run", "--project", "sample_project", *session.posargs)


@nox.session(python="3.11")
def e2e(session: nox.Session) -> None:
    """Build our wheel, build the sample app with `python -m build`, install it into a fresh
    virtualenv, run it from an empty folder and talk HTTP to it (also run by `tests`)."""
    session.install("-e", TESTED)
    session.run("pytest", "tests/test_packaging_e2e.py", "tests/test_server.py", *session.posargs)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """The benchmark of docs/performance.md; pass options through, e.g. -- --sizes 100."""
    session.install("-e", ".[aws]", "matplotlib")
    session.run("python", "bench/run.py", *session.posargs)
