"""Generate a realistic route tree of N route files, plus the plain-FastAPI apps it is
measured against: `floor_app.py` (every route, registered by hand) and `one_app.py` (one
route: the least any FastAPI process costs).

Mostly static resources, about a quarter with one or two typed [params], a few catch-alls,
some route groups; GET everywhere, POST on most, PUT/DELETE on dynamic items. Handlers use only
FastAPI (and pydantic), so the floor app can import the very same files.

Two shapes over the same table (the same folders, URLs and methods for a given N):

- light (the default, every figure before issue 19): handlers take and return plain dicts;
- `models=True` (`--models`), shaped like real APIs: each file declares its pydantic models,
  a POST or PUT takes a body model (constrained fields, an Optional, an enum, a nested model),
  a GET returns a response model, as FastAPI's tutorials write them.

    python bench/generate.py 1000 /tmp/tree-1000
    python bench/generate.py --models 10000 /tmp/tree-10000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

STATIC = '''from fastapi import Request


def GET(request: Request, limit: int = 10) -> dict:
    """List {name}."""
    return {{"resource": "{name}", "limit": limit}}


def POST(request: Request, payload: dict) -> dict:
    """Create one {name}."""
    return {{"resource": "{name}", "created": payload}}
'''

STATIC_GET_ONLY = '''from fastapi import Request


def GET(request: Request) -> dict:
    """Show {name}."""
    return {{"resource": "{name}"}}
'''

DYNAMIC = '''from fastapi import Request


async def GET(request: Request, {sig}) -> dict:
    """Read one {name}."""
    return {{"resource": "{name}", {ret}}}


def PUT(request: Request, {sig}, payload: dict) -> dict:
    """Replace one {name}."""
    return {{"resource": "{name}", {ret}, "payload": payload}}


def DELETE(request: Request, {sig}) -> dict:
    """Delete one {name}."""
    return {{"deleted": True, {ret}}}
'''

CATCHALL = '''from fastapi import Request


def GET(request: Request, rest: str) -> dict:
    """Files under {name}."""
    return {{"resource": "{name}", "rest": rest}}
'''

# --- the models tree (issue 19): each file declares its models, as real APIs do -------------
# `{cls}` is the resource's class name (Res12 for res12). Every GET returns its "resource"
# literally, as in the light tree, so that `edit_route` can change it.

MODELS_STATIC = '''from datetime import date, datetime
from typing import Literal, Optional

from fastapi import Request
from pydantic import BaseModel, Field


class {cls}Create(BaseModel):
    """A new {name}."""

    title: str = Field(min_length=1, max_length=200)
    quantity: int = Field(default=1, ge=0, le=10_000)
    price: float = Field(gt=0)
    status: Literal["draft", "active", "archived"] = "draft"
    tags: list[str] = []
    due: Optional[date] = None


class {cls}(BaseModel):
    """One {name}."""

    id: int
    resource: str
    title: str
    quantity: int
    price: float
    status: str = "draft"
    tags: list[str] = []
    created: Optional[datetime] = None


def GET(request: Request, limit: int = 10) -> list[{cls}]:
    """List {name}."""
    return [{{"resource": "{name}", "id": 1, "title": "first", "quantity": limit,
             "price": 1.0}}]


def POST(request: Request, payload: {cls}Create) -> {cls}:
    """Create one {name}."""
    return {{"resource": "{name}", "id": 1, **payload.model_dump()}}
'''

MODELS_STATIC_GET_ONLY = '''from typing import Optional

from fastapi import Request
from pydantic import BaseModel, Field


class {cls}Summary(BaseModel):
    """What {name} shows."""

    resource: str
    count: int = Field(default=0, ge=0)
    updated: Optional[str] = None
    labels: dict[str, str] = {{}}


def GET(request: Request) -> {cls}Summary:
    """Show {name}."""
    return {{"resource": "{name}"}}
'''

MODELS_DYNAMIC = '''from datetime import datetime
from decimal import Decimal
from typing import Optional

from fastapi import Request
from pydantic import BaseModel, Field


class {cls}Dimensions(BaseModel):
    width: float = Field(gt=0)
    height: float = Field(gt=0)
    unit: str = Field(default="cm", pattern="^(cm|in)$")


class {cls}Update(BaseModel):
    """A {name} replaced."""

    title: str = Field(min_length=1, max_length=200)
    amount: Decimal = Field(max_digits=10, decimal_places=2)
    enabled: bool = True
    dimensions: Optional[{cls}Dimensions] = None
    notes: list[str] = Field(default_factory=list, max_length=20)


class {cls}(BaseModel):
    """One {name}."""

    resource: str
    id: int
    title: Optional[str] = None
    enabled: bool = True
    dimensions: Optional[{cls}Dimensions] = None
    updated: Optional[datetime] = None


async def GET(request: Request, {sig}) -> {cls}:
    """Read one {name}."""
    return {{"resource": "{name}", {ret}}}


def PUT(request: Request, {sig}, payload: {cls}Update) -> {cls}:
    """Replace one {name}."""
    return {{"resource": "{name}", {ret}, **payload.model_dump()}}


def DELETE(request: Request, {sig}) -> dict:
    """Delete one {name}."""
    return {{"deleted": True, {ret}}}
'''

MODELS_CATCHALL = '''from typing import Optional

from fastapi import Request
from pydantic import BaseModel, Field


class {cls}File(BaseModel):
    """A file under {name}."""

    resource: str
    rest: str = Field(max_length=1024)
    size: Optional[int] = Field(default=None, ge=0)
    content_type: str = "application/octet-stream"


def GET(request: Request, rest: str) -> {cls}File:
    """Files under {name}."""
    return {{"resource": "{name}", "rest": rest}}
'''

TEMPLATES = {
    False: {"static": STATIC, "get": STATIC_GET_ONLY, "dynamic": DYNAMIC, "catchall": CATCHALL},
    True: {"static": MODELS_STATIC, "get": MODELS_STATIC_GET_ONLY, "dynamic": MODELS_DYNAMIC,
           "catchall": MODELS_CATCHALL},
}

FLOOR_APP = '''"""Plain FastAPI, as a user writes it: import each route module, add_api_route."""

import importlib.util
from pathlib import Path

from fastapi import FastAPI

ROOT = Path(__file__).parent
ROUTES = {routes}

app = FastAPI()
for number, (url, file, methods) in enumerate(ROUTES):
    spec = importlib.util.spec_from_file_location(f"floor_route_{{number}}", ROOT / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for method in methods:
        app.add_api_route(url, getattr(module, method), methods=[method])
'''

ONE_APP = '''"""The smallest FastAPI process: one route."""

from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/area0/res0")
def home(request: Request) -> dict:
    return {"resource": "res0"}
'''


@dataclass
class Tree:
    root: Path
    files: int = 0
    routes: list[tuple[str, str, list[str]]] = field(default_factory=list)  # url, file, methods
    dynamic_urls: list[str] = field(default_factory=list)  # example URLs, in table order
    static_url: str = "/area0/res0"
    models: bool = False  # the models tree (issue 19), else the light one


def _write(tree: Tree, folders: list[str], url: str, source: str, methods: list[str]) -> None:
    rel = "/".join(["routes", *folders, "route.py"])
    path = tree.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    tree.files += 1
    tree.routes.append((url, rel, methods))


def class_name(name: str) -> str:
    """The models' class name stem for a resource: res12 -> Res12."""
    return name[:1].upper() + name[1:]


def generate(n: int, root: Path, seed: int = 7, models: bool = False) -> Tree:
    """Write n route files under root/routes and the two plain apps beside them. `models`
    writes the models tree: the same folders, URLs and methods, with pydantic models."""
    rng = random.Random(seed)
    tree = Tree(root, models=models)
    kinds = TEMPLATES[models]

    def source(kind: str, name: str, **more: str) -> str:
        return kinds[kind].format(name=name, cls=class_name(name), **more)

    (root / "routes").mkdir(parents=True, exist_ok=True)
    (root / "config.py").write_text('app_name = "bench"\n', encoding="utf-8")
    areas = max(1, n // 50)
    i = 0
    while tree.files < n:
        area = f"area{i % areas}"
        group = [f"(g{i % 3})"] if i % 7 == 0 else []
        name = f"res{i}"
        folders = [*group, area, name]
        url = f"/{area}/{name}"
        roll = rng.random()
        if roll < 0.70 or tree.files == 0:
            if rng.random() < 0.6:
                _write(tree, folders, url, source("static", name), ["GET", "POST"])
            else:
                _write(tree, folders, url, source("get", name), ["GET"])
        elif roll < 0.85:
            sig, ret = "item_id: int", '"id": item_id'
            _write(tree, [*folders, "[item_id]"], f"{url}/{{item_id}}",
                   source("dynamic", name, sig=sig, ret=ret), ["GET", "PUT", "DELETE"])
            tree.dynamic_urls.append(f"{url}/42")
        elif roll < 0.97:
            sig, ret = "item_id: int, sub_id: int", '"id": item_id, "sub": sub_id'
            _write(tree, [*folders, "[item_id]", "parts", "[sub_id]"],
                   f"{url}/{{item_id}}/parts/{{sub_id}}",
                   source("dynamic", name, sig=sig, ret=ret), ["GET", "PUT", "DELETE"])
            tree.dynamic_urls.append(f"{url}/42/parts/7")
        else:
            _write(tree, [*folders, "[...rest]"], f"{url}/{{rest:path}}",
                   source("catchall", name), ["GET"])
        i += 1
    if not tree.dynamic_urls:  # tiny trees: make sure one dynamic route exists
        _write(tree, ["areaX", "item", "[item_id]"], "/areaX/item/{item_id}",
               source("dynamic", "item", sig="item_id: int", ret='"id": item_id'),
               ["GET", "PUT", "DELETE"])
        tree.dynamic_urls.append("/areaX/item/42")
    floor_routes = json.dumps(tree.routes, indent=0)
    (root / "floor_app.py").write_text(FLOOR_APP.format(routes=floor_routes), encoding="utf-8")
    (root / "one_app.py").write_text(ONE_APP, encoding="utf-8")
    return tree


def subset(tree: Tree, urls: list[str], root: Path, size: int = 10) -> Tree:
    """A `size`-file tree holding the route files behind `urls` plus static ones: the same
    routes in a small app, to compare dispatch cost against."""
    small = Tree(root, models=tree.models)
    (root / "routes").mkdir(parents=True, exist_ok=True)
    (root / "config.py").write_text('app_name = "bench-small"\n', encoding="utf-8")
    wanted = {_template_of(tree, url) for url in urls}
    chosen = [r for r in tree.routes if r[0] in wanted]
    chosen += [r for r in tree.routes if "{" not in r[0]][: size - len(chosen)]
    for url, rel, methods in chosen:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tree.root / rel, target)
        small.routes.append((url, rel, methods))
        small.files += 1
    small.dynamic_urls = list(urls)
    small.static_url = tree.static_url
    return small


def _template_of(tree: Tree, url: str) -> str:
    pieces = url.strip("/").split("/")
    for template, _, _ in tree.routes:
        parts = template.strip("/").split("/")
        if len(parts) == len(pieces) and all(
            p.startswith("{") or p == q for p, q in zip(parts, pieces, strict=True)
        ):
            return template
    raise KeyError(url)


NEW_ROUTE = {False: STATIC_GET_ONLY, True: MODELS_STATIC_GET_ONLY}  # dev's "new folder" samples


def static_files(tree: Tree) -> list[tuple[str, str]]:
    """(url, file) of the static route files, in table order, bar the first-response one: the
    files dev's "edit" samples change."""
    return [(url, rel) for url, rel, _ in tree.routes
            if "{" not in url and url != tree.static_url]


def edit_route(root: Path, rel: str, marker: str) -> str:
    """Change the body a route file's handlers return ("resource": "resN" ->
    "resN-<marker>"), as an editor's save does: written, flushed, fsynced. Returns the new
    resource name, which the next GET's body holds once the edit is served."""
    path = root / rel
    source = path.read_text(encoding="utf-8")
    name = path.parent.name
    new = f"{name}-{marker}"
    edited = source.replace(f'"resource": "{name}"', f'"resource": "{new}"')
    if edited == source:
        raise ValueError(f"{rel}: no resource name to edit")
    _save(path, edited)
    return new


def new_route(root: Path, folder: str, models: bool = False) -> str:
    """A route file in a brand-new folder routes/<folder>/ (created here), of the tree's
    shape; returns its URL."""
    path = root / "routes" / folder / "route.py"
    path.parent.mkdir(parents=True)
    _save(path, NEW_ROUTE[models].format(name=folder, cls=class_name(folder)))
    return f"/{folder}"


def _save(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int)
    parser.add_argument("root", type=Path)
    parser.add_argument("--models", action="store_true",
                        help="each file declares pydantic body and response models")
    args = parser.parse_args()
    tree = generate(args.n, args.root, models=args.models)
    print(f"{tree.files} route files, {sum(len(m) for _, _, m in tree.routes)} routes "
          f"in {args.root}")


if __name__ == "__main__":
    main()
