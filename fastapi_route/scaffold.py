"""The project `fastapi-route init` creates: the files it writes, never over the user's own."""

from __future__ import annotations

from pathlib import Path

from .conventions import CONFIG_FILE
from .errors import FastAPIRouteError

INDEX = '''from fastapi_route import Request


def GET(request: Request) -> dict[str, str]:
    """The home page."""
    return {"message": "Hello from fastapi-route"}
'''

CONFIG = '''# Settings for this project: every name is optional (see the README).
app_name = "{name}"
version = "0.1.0"
description = ""

server = {{"port": 8000}}   # dev binds 127.0.0.1, run 0.0.0.0 (add "host" to choose)
build = {{"compression_level": 6}}
'''

GITIGNORE = ".cache/\n__pycache__/\n"


def create_project(target: Path) -> Path:
    """Write routes/index.py, config.py, public/ and (unless there is one) .gitignore into
    `target`, made if need be; return its resolved path. A folder that already holds routes/
    or config.py is refused, with nothing written."""
    existing = [p for p in ("routes", CONFIG_FILE) if (target / p).exists()]
    if existing:
        raise FastAPIRouteError(
            f"{target.resolve()} already holds {', '.join(existing)}; nothing was changed",
            "choose a new folder name: fastapi-route init NAME",
        )
    (target / "routes").mkdir(parents=True, exist_ok=True)
    (target / "public").mkdir(exist_ok=True)
    (target / "routes" / "index.py").write_text(INDEX, encoding="utf-8")
    folder = target.resolve()
    (target / CONFIG_FILE).write_text(CONFIG.format(name=folder.name.replace('"', "")),
                                      encoding="utf-8")
    gitignore = target / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(GITIGNORE, encoding="utf-8")
    return folder
