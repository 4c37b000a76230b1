"""Helpers for the packaging tests: our own wheel in a local wheelhouse, app builds that use it,
fresh virtual environments, and a server started from an installed app.

PyPI holds an old, unrelated fastapi-route 0.2.1, so nothing here may install fastapi-route from
an index: `build_wheelhouse` builds our wheel once and writes a constraints file pinning
`fastapi-route @ file://.../fastapi_route-X-py3-none-any.whl`. `Wheelhouse.env()` hands it to the
pip that `python -m build` / `pip wheel` run in an isolated build environment (PIP_CONSTRAINT,
PIP_FIND_LINKS); `Wheelhouse.pip_args()` to a plain `pip install`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from servers import Server, child_env

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PROJECT = REPO_ROOT / "sample_project"
SETUPTOOLS_APP = REPO_ROOT / "examples" / "setuptools_app"

# What a developer's tree may hold that a fresh checkout does not.
COPY_IGNORE = shutil.ignore_patterns(
    ".cache", "__pycache__", "*.egg-info", "dist", "build", ".venv", "*.pyc"
)
# Never let the test process's own setup leak into a subprocess's Python.
DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "PIP_CONSTRAINT", "PIP_REQUIRE_VIRTUALENV")
BUILD_TIMEOUT = 600.0


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return child_env(extra, DROPPED_ENV)


def run(
    args: Sequence[str | Path], *, cwd: Path, env: Mapping[str, str] | None = None,
    check: bool = True, timeout: float = BUILD_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run to completion with stdout and stderr merged into `.stdout`; with `check`, a
    nonzero exit raises an AssertionError that shows the command and all it printed."""
    command = [str(a) for a in args]
    proc = subprocess.run(
        command, cwd=cwd, env=subprocess_env(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"$ {' '.join(command)}\n(exit {proc.returncode}, cwd {cwd})\n{proc.stdout}"
        )
    return proc


@dataclass(frozen=True)
class Wheelhouse:
    folder: Path
    wheel: Path
    constraints: Path

    def env(self) -> dict[str, str]:
        """For a build frontend whose isolated environment pip fills: our wheel, never the
        index's. The machine's own find-links (if any) stay after ours."""
        links = [str(self.folder), os.environ.get("PIP_FIND_LINKS", "")]
        return {"PIP_CONSTRAINT": str(self.constraints),
                "PIP_FIND_LINKS": " ".join(link for link in links if link)}

    def pip_args(self) -> list[str]:
        return ["-c", str(self.constraints), "--find-links", str(self.folder)]


def build_wheelhouse(folder: Path) -> Wheelhouse:
    """Build fastapi-route's wheel from this checkout into `folder`, with its constraints."""
    run([sys.executable, "-m", "build", "--wheel", "--outdir", folder, REPO_ROOT], cwd=REPO_ROOT)
    wheels = sorted(folder.glob("fastapi_route-*-py3-none-any.whl"))
    assert len(wheels) == 1, f"expected one fastapi_route wheel in {folder}: {wheels}"
    constraints = folder / "constraints.txt"
    constraints.write_text(f"fastapi-route @ {wheels[0].as_uri()}\n", encoding="utf-8")
    return Wheelhouse(folder, wheels[0], constraints)


def copy_project(source: Path, target: Path) -> Path:
    """A clean copy (no cache, bytecode or build leftovers) of an app project."""
    shutil.copytree(source, target, ignore=COPY_IGNORE)
    return target


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}: {[p.name for p in found]}"
    return found[0]


def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


def sdist_names(sdist: Path) -> list[str]:
    """Member names without the leading `name-version/` folder."""
    with tarfile.open(sdist) as t:
        return [n.split("/", 1)[1] for n in t.getnames() if "/" in n]


def files_under(folder: Path) -> set[str]:
    """Every file below `folder` (relative posix paths), bytecode caches left out."""
    if not folder.exists():
        return set()
    return {
        p.relative_to(folder).as_posix() for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


class Venv:
    """A fresh virtual environment (virtualenv when the test environment has it: faster)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            import virtualenv  # noqa: F401
        except ImportError:
            run([sys.executable, "-m", "venv", path], cwd=path.parent)
        else:
            run([sys.executable, "-m", "virtualenv", "-q", path], cwd=path.parent)

    def bin(self, name: str) -> Path:
        scripts = self.path / ("Scripts" if os.name == "nt" else "bin")
        return scripts / (f"{name}.exe" if os.name == "nt" else name)

    @property
    def python(self) -> Path:
        return self.bin("python")

    def install(self, *args: str | Path, wheelhouse: Wheelhouse,
                ) -> subprocess.CompletedProcess[str]:
        """`pip install ARGS` in this venv; fastapi-route can only come from `wheelhouse`, also
        in the isolated environment of a build that pip runs (an sdist, `-e FOLDER`)."""
        return run([self.python, "-m", "pip", "install", *wheelhouse.pip_args(), *args],
                   cwd=self.path, env=wheelhouse.env())

    @contextlib.contextmanager
    def installed(self, distribution: str, *args: str | Path, wheelhouse: Wheelhouse,
                  ) -> Iterator[None]:
        """`install ARGS` for the block, then uninstall `distribution` again, so that a venv
        shared by several tests holds one app at a time."""
        self.install(*args, wheelhouse=wheelhouse)
        try:
            yield
        finally:
            run([self.python, "-m", "pip", "uninstall", "--yes", distribution], cwd=self.path)

    def site_packages(self) -> Path:
        out = run([self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  cwd=self.path).stdout
        return Path(out.strip())


@contextlib.contextmanager
def serving(command: Sequence[str | Path], *, cwd: Path, ready: str = "/",
            env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """Start `command`, wait until it answers on `ready`, and always stop it afterwards."""
    server = Server(command, cwd=cwd, env=env, module=False, drop_env=DROPPED_ENV)
    try:
        server.wait_ready(ready)
        yield server
    finally:
        server.close()
