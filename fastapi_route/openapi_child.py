"""The OpenAPI document, made in a child process that imports the app (SPEC 13.2); and the
start-up profile (`routes --profile`, SPEC 14.4), made the same way.

`fastapi-route openapi`, a build with `build = {"openapi": True}` and `routes --profile` are the
only commands that run the app's code: the child makes the app as `run` does (`create_app`, from
the cache, or a scan), so app.py's `configure(app)` runs and a replaced `app.openapi` is the one
called, and hands back `app.openapi()` as FastAPI's endpoint renders it (or the times
`profiling` measured while it made the app). The parent never imports a route
file: a broken one, or one whose dependencies are missing (a wheel's isolated build
environment), is a FastAPIRouteError naming the file, not a traceback.

Run as `python -c CHILD REQUEST` (REQUEST a JSON object), not `python -m`, which would put the
current folder first on sys.path where `run` has no project folder: a project's `email.py`
would replace the standard library's, and `from lib.models import Item` would import here and
fail under `run`. It writes the document and a JSON result to the files the request names, and
anything the app prints goes to stderr, which the parent passes on.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .conventions import LAYOUT_FILE, ROUTE_FILES
from .errors import FastAPIRouteError
from .pipeline.baked_openapi import (
    SOURCES,
    Made,
    arguments_digest,
    installed_versions,
    module_digests,
)
from .project import Project, from_path

FULL_COLLECTIONS_HELD = 1_000_000  # collections of the middle generation before a full one
NOTICE = ("Making the OpenAPI document: importing {name}'s app in a child process "
          "(this runs the app's code)")
# `python -c` puts "" (the current folder) first on sys.path, as -m does; it is taken off
# (unless -P / PYTHONSAFEPATH, 3.11+, left it out) before anything else is imported.
CHILD = ("import sys\n"
         "if not getattr(sys.flags, 'safe_path', False): del sys.path[0]\n"
         "from fastapi_route.openapi_child import main\n"
         "sys.exit(main(sys.argv[1:]))\n")


class DocumentError(FastAPIRouteError):
    """The child could not make the document (an import error, configure failed, ...)."""


class ProfileError(FastAPIRouteError):
    """The child could not profile the start (an import error, a route FastAPI refuses, ...)."""


@dataclass(frozen=True)
class Task:
    """What a child process is asked to do, and how its failure reads."""

    name: str  # the child's entry in TASKS
    doing: str  # "making the OpenAPI document"
    cannot: str  # "cannot make the OpenAPI document"
    command: str  # the command that shows the app's own error
    error: type[FastAPIRouteError]


OPENAPI = Task("openapi", "making the OpenAPI document", "cannot make the OpenAPI document",
               "fastapi-route openapi", DocumentError)
PROFILE = Task("profile", "profiling the start", "cannot profile the start",
               "fastapi-route routes --profile", ProfileError)
PROFILE_NOTICE = ("Profiling the start of {name}: importing its app in a child process "
                  "(this runs the app's code)")


@dataclass(frozen=True)
class Document:
    """What `fastapi-route openapi` prints and what a build stores."""

    made: Made
    served: bytes  # as the app answers GET openapi_url (its own root_path in `servers`)


def make(project: Project, *, source: str = "cache", cache: Path | None = None,
         for_build: bool = False, announce: bool = True) -> Document:
    """Make the project's document in a child process; DocumentError if that fails.

    `cache`: a cache folder other than the project's (a build's, not yet saved in place).
    """
    if announce:
        print(NOTICE.format(name=project.name), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="fastapi-route-openapi-") as work:
        files = {name: Path(work) / f"{name}.json" for name in ("document", "served")}
        result = _run(OPENAPI, project, Path(work), for_build=for_build, request={
            "source": source, "cache": str(cache) if cache is not None else None,
            **{name: str(path) for name, path in files.items()},
        })
        made = Made(files["document"].read_bytes(), result["openapi_url"], result["versions"],
                    result["arguments"], result["modules"])
        return Document(made, files["served"].read_bytes())


def profile(project: Project, *, source: str = "cache") -> dict[str, Any]:
    """The start-up profile of the project (`profiling.measure`), made in a child process;
    ProfileError if that fails."""
    print(PROFILE_NOTICE.format(name=project.name), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="fastapi-route-profile-") as work:
        result = _run(PROFILE, project, Path(work), request={"source": source})
        found: dict[str, Any] = result["profile"]
        return found


def _run(task: Task, project: Project, work: Path, *, request: dict[str, Any],
         for_build: bool = False) -> dict[str, Any]:
    """Run `task` in a child process that imports the app; its result (which says "ok"),
    else the task's error. Its result file is written in the folder `work`."""
    result_file = work / "result.json"
    request = {"task": task.name, "root": str(project.root), "package": project.package,
               "installed": project.installed, "result": str(result_file), **request}
    # What the app prints and logs goes to our stderr as it comes (the document can take
    # minutes); captured and passed on when stderr is no file (click's test runner).
    sys.stderr.flush()
    live = _stderr_fd()
    ran = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(request)],
        stdin=subprocess.DEVNULL, stdout=live if live is not None else subprocess.PIPE,
        stderr=live if live is not None else subprocess.PIPE, env=_child_env(),
        check=False,
    )
    for output in (ran.stdout, ran.stderr):
        if output:
            sys.stderr.write(output.decode("utf-8", "replace"))
    sys.stderr.flush()
    try:
        result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise task.error(
            f"the child process {task.doing} ended with exit code "
            f"{ran.returncode} and no result (its output is above)",
            f"run `{task.command}` to see the app's own error",
        ) from None
    if not result.get("ok"):
        raise _error(task, result, for_build, project.root)
    return result


def for_build(root: Path, config: Config, cache: Path) -> Made:
    """`pipeline.build.DocumentMaker`: the document of the project at `root` from the cache
    just saved in `cache`, for `build` and the build hooks."""
    return make(from_path(root, "build"), cache=cache, for_build=True).made


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def _child_env() -> dict[str, str]:
    """The environment, with this fastapi_route importable first (a source checkout)."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def _error(task: Task, result: dict[str, Any], for_build: bool, root: Path
           ) -> FastAPIRouteError:
    message = f"{task.cannot}: {result.get('message', '?')}"
    hint = str(result.get("hint", ""))
    missing = result.get("missing")
    own = _project_name(str(missing), root) if missing else None
    if own is not None:  # not a module to install: the project's own, imported absolutely
        message += (f"\n  {missing!r} is the project's own {own}: the project folder is not "
                    "on sys.path, under `run` as here")
        hint = ("import it relatively, one dot per folder up to the project root plus one "
                f"(`from ...{missing} import ...` in routes/<folder>/route.py), or by the "
                "project's package name when it has an __init__.py")
    elif missing:
        message += (f"\n  the module {missing!r} is not installed where the app is made "
                    f"({sys.executable})")
        hint = (f"install {missing!r} where the build runs: for a wheel, add it to "
                "[build-system].requires in pyproject.toml; or drop build.openapi in config.py "
                "(the document is then made when first asked for)"
                if for_build else f"install {missing!r} in this environment")
    elif for_build:
        hint = (hint + "; " if hint else "") + "or drop build.openapi in config.py"
    return task.error(message, hint)


def _project_name(module: str, root: Path) -> str | None:
    """"folder lib/" or "file lib.py" when the top of `module` names one in the project root."""
    top = module.partition(".")[0]
    if (root / top).is_dir():
        return f"folder {top}/"
    if (root / f"{top}.py").is_file():
        return f"file {top}.py"
    return None


# --- the child --------------------------------------------------------------------------------


def _missing_module(exc: BaseException) -> str | None:
    """The module a ModuleNotFoundError in `exc`'s chain names."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ModuleNotFoundError) and current.name:
            return current.name
        current = current.__cause__ or current.__context__
    return None


def _imported_modules(root: Path, route_dir: str) -> list[str]:
    """The project's files that imported modules came from (relative posix paths): all but
    route files and layouts (the cache's fingerprint and digests cover them), config.py and
    app.py (the record's `sources`), a library's (a virtualenv in the project) and ours."""
    bases = {Path(os.path.abspath(root)), root.resolve()}  # as given, and through links
    ours = Path(__file__).resolve().parent
    routes = Path(route_dir).parts
    found = set()
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str):
            continue
        path = Path(os.path.abspath(filename))
        for base in bases:
            if base in path.parents:
                rel = path.relative_to(base)
                break
        else:
            continue
        if ({"site-packages", "dist-packages"} & set(rel.parts) or ours in path.parents
                or rel.as_posix() in SOURCES):
            continue
        if rel.parts[:len(routes)] == routes and path.name in (*ROUTE_FILES, LAYOUT_FILE):
            continue
        found.add(rel.as_posix())
    return sorted(found)


def _make(request: dict[str, Any]) -> dict[str, Any]:
    from .config import load_config
    from .runtime.app import create_app
    from .runtime.baked_openapi import served_body
    from .runtime.openapi import render

    root = Path(request["root"])
    project = Project(root, request["package"], request["installed"])
    config = load_config(root).with_build(openapi=False)  # no baked document to look for
    if request["cache"] is not None:
        config = config.with_build(cache_dir=request["cache"])  # absolute: root / it is it
    app = create_app(project, source=request["source"], config=config)  # as `run` makes it
    gc.freeze()  # what create_app made stays: young collections need not walk it again
    if app.openapi_url is None:
        raise FastAPIRouteError(
            "the app serves no OpenAPI document (its openapi_url is None)",
            "set openapi_url in config.py (and docs_enabled), or drop build.openapi",
        )
    body = render(app.openapi())  # FastAPI's, or the one configure put in its place
    Path(request["document"]).write_bytes(body)
    Path(request["served"]).write_bytes(served_body(body, app, app.root_path))
    root = root.resolve()
    return {"ok": True, "openapi_url": app.openapi_url, "versions": installed_versions(),
            "arguments": arguments_digest(config, root),
            "modules": module_digests(root, _imported_modules(root, config.route_dir))}


def _profile(request: dict[str, Any]) -> dict[str, Any]:
    from .config import load_config
    from .profiling import measure

    root = Path(request["root"])
    project = Project(root, request["package"], request["installed"])
    return {"ok": True,
            "profile": measure(project, request["source"], load_config(root))}


TASKS = {OPENAPI.name: _make, PROFILE.name: _profile}


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    sys.stdout = sys.stderr  # what the app prints is not the result
    # A process that makes one app and ends: no full collection over the whole heap
    # (each walks every route, model and schema so far; 4.4 s of 9.7 s at 1000 route files),
    # nor one charged to whichever file or route the profile was timing when it came.
    gc.set_threshold(*gc.get_threshold()[:2], FULL_COLLECTIONS_HELD)
    try:
        result = TASKS[request["task"]](request)
    except FastAPIRouteError as exc:
        result = {"ok": False, "message": exc.message, "hint": exc.hint,
                  "missing": _missing_module(exc)}
    except (Exception, SystemExit) as exc:  # the app's own code failed: say where, no traceback
        from .runtime.failure import located

        result = {"ok": False,
                  "message": located("making the app", exc, Path(request["root"])),
                  "hint": "fix the error there (the app's code ran as `run` runs it)",
                  "missing": _missing_module(exc)}
    Path(request["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
