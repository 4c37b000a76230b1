"""`dev` at 10,000 files (issue 19 part 4): a reload walks again only the folders the watcher
said changed, and reads the tree off the event loop.

What must hold: after any sequence of changes, told as the watcher tells them, the partial
walk gives the scan, the table and the problems a full scan gives; an untouched route keeps
answering while a reload runs; the heap frozen after each reload never keeps a replaced
table's modules."""

from __future__ import annotations

import asyncio
import gc
import os
import random
import shutil
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import write_tree
from fastapi.testclient import TestClient

from fastapi_route.config import Config, load_config
from fastapi_route.naming import operation_ids
from fastapi_route.pipeline.scan import Facts, Scan, scan
from fastapi_route.pipeline.validate import Checked, validate
from fastapi_route.project import Project
from fastapi_route.runtime import devserver
from fastapi_route.runtime.app import runtime_of
from fastapi_route.runtime.devserver import DevApp, Watcher, _watch
from fastapi_route.table import methods_by

GET = "def GET(request):\n    return {'at': %r}\n"

TREE = {
    "routes/index.py": GET % "/",
    "routes/users/route.py": GET % "users",
    "routes/users/[id=int]/route.py": "def GET(request, id):\n    return {'id': id}\n",
    "routes/(admin)/_layout.py": "tags = ['admin']\n",
    "routes/(admin)/settings/route.py": GET % "settings",
    "routes/_helpers/util.py": "X = 1\n",
    "routes/docs/[...slug]/route.py": "def GET(request, slug):\n    return {'slug': slug}\n",
    "routes/deep/a/b/c/route.py": GET % "c",
    "public/logo.txt": "logo\n",
}


def _every_path(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")}


class Tree:
    """Changes to a project, each returning the paths a watcher reports for it: the file
    for a write in a known folder, only the folders for a new folder (the watcher may see
    the folder before the file in it), both names for a rename, everything for a delete."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> set[str]:
        path = self.root / rel
        new = [p for p in (path, *path.parents) if not p.exists() and self.root in p.parents]
        write_tree(self.root, {rel: text})
        folders = {str(p) for p in new if p.is_dir()}
        return folders or {str(path)}

    def delete(self, rel: str) -> set[str]:
        path = self.root / rel
        gone = {str(path), *(_every_path(path) if path.is_dir() else ())}
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        return gone

    def rename(self, rel: str, to: str) -> set[str]:
        os.rename(self.root / rel, self.root / to)
        return {str(self.root / rel), str(self.root / to)}

    def file_to_folder(self, rel: str) -> set[str]:
        path = self.root / rel
        path.unlink()
        path.mkdir()
        (path / "inside.py").write_text("Y = 2\n")
        return {str(path)}


def _same(a: Scan, b: Scan) -> None:
    assert a.files == b.files
    assert a.layouts == b.layouts
    assert a.app == b.app
    assert sorted(a.problems) == sorted(b.problems)
    assert a.names == b.names
    assert a.docs_page == b.docs_page


def _compare(root: Path, config: Config, facts: Facts, changed: set[str],
             checked: Checked | None = None) -> Scan:
    """The partial scan against a full one: the same scan, the same table and problems
    (with what the files' own rules found last time, when `checked`)."""
    facts.changed(changed)
    partial = scan(root, config, facts=facts)
    full = scan(root, config)
    _same(partial, full)
    routes, problems = validate(partial, config, checked)
    assert (routes, problems) == validate(full, config)
    SEEN.update(p.code for p in problems)
    return partial


SEEN: set[str] = set()  # the problem codes the steps below gave


STEPS: list[tuple[str, Callable[[Tree], set[str]]]] = [
    ("edit a handler", lambda t: t.write("routes/users/route.py",
                                         GET % "users" + "\ndef POST(request):\n    return 1\n")),
    ("a new folder", lambda t: t.write("routes/orders/[oid]/route.py",
                                       "def GET(request, oid):\n    return oid\n")),
    ("a layout added", lambda t: t.write("routes/users/_layout.py", "tags = ['users']\n")),
    ("a new group folder", lambda t: t.write("routes/(shop)/cart/route.py", GET % "cart")),
    ("a folder renamed", lambda t: t.rename("routes/orders", "routes/purchases")),
    ("a group deleted", lambda t: t.delete("routes/(admin)")),
    ("a syntax error", lambda t: t.write("routes/index.py", "def GET(request:\n")),
    ("fixed", lambda t: t.write("routes/index.py", GET % "fixed")),
    ("two files for one path", lambda t: t.write("routes/users/index.py", GET % "again")),
    ("names one on macOS", lambda t: t.write("routes/Users/route.py", GET % "Users")),
    ("a public file a route hides", lambda t: t.write("public/users", "x\n")),
    ("a helper becomes a folder", lambda t: t.file_to_folder("routes/_helpers/util.py")),
    ("the layout deleted", lambda t: t.delete("routes/users/_layout.py")),
    ("a duplicate route", lambda t: t.write("routes/(shop)/users/route.py", GET % "dup")),
    ("a deep folder deleted", lambda t: t.delete("routes/deep/a")),
    ("a file in a new deep folder", lambda t: t.write("routes/deep/x/y/route.py", GET % "y")),
    ("a folder moved in from outside", lambda t: _moved_in(t)),
    ("a hidden folder", lambda t: t.write("routes/.cache/x.py", "X = 1\n")),
    ("a static folder deleted", lambda t: t.delete("public")),
]


def _moved_in(tree: Tree) -> set[str]:
    outside = tree.root.parent / "outside"
    write_tree(outside, {"moved/route.py": GET % "moved", "moved/sub/route.py": GET % "sub"})
    os.rename(outside / "moved", tree.root / "routes/moved")
    return {str(tree.root / "routes/moved")}  # its files: no event of their own


def test_a_partial_walk_gives_what_a_full_scan_gives_after_each_change(
        tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", TREE)
    config = load_config(root)
    tree = Tree(root)
    facts = Facts()
    facts.track()
    checked = Checked()
    validate(scan(root, config, facts=facts), config, checked)  # the first walk: all of it
    for what, change in STEPS:
        changed = change(tree)
        try:
            _compare(root, config, facts, changed, checked)
        except AssertionError as exc:
            raise AssertionError(f"after {what!r}: {exc}") from exc
    assert {"SYNTAX_ERROR", "ROUTE_FILE_CONFLICT", "PORTABILITY", "SHADOWED_FILE",
            "SHADOWED_ROUTE", "DUPLICATE_ROUTE"} <= SEEN, SEEN
    # Each step above read a few folders again, not the tree: an edit reads its own folder.
    tree.write("routes/users/route.py", GET % "last")
    _compare(root, config, facts, {str(root / "routes/users/route.py")})
    assert facts._tree is not None and facts._tree.read == {"routes/users"}


# Folders whose route files collide in every way the rules between files know: two files
# in one folder, sibling params and catch-alls (DYNAMIC_CONFLICT), one URL through two groups
# (DUPLICATE_ROUTE), one shape under other names (AMBIGUOUS_ROUTE), chosen operation ids.
FOLDERS = ("", "a", "a/[id]", "a/[uid]", "a/[n=int]", "a/[m=int]", "a/[...rest]",
           "a/[...every]", "(g)/a", "(g)/a/[key]", "(h)/a/[id]", "b/(x)/[id]", "b/(y)/[slug]",
           "b/[[...opt]]", "b", "b/(x)/[id]/c", "b/(y)/[slug]/c",
           # [aa] sorts first: with it the pair DYNAMIC_CONFLICT names is ([aa], [id]), no
           # longer ([id], [uid]), and the routes below those two become AMBIGUOUS_ROUTE.
           "a/[aa]", "a/[id]/x", "a/[uid]/x",
           # A control character: PORTABILITY in a folder's name, INVALID_SEGMENT (alone)
           # while a route file below makes it a segment.
           "c\x01", "c\x01/d")
PARAMS = ", ".join(f"{name}=None" for name in
                   ("aa", "id", "uid", "n", "m", "rest", "every", "key", "slug", "opt"))
HANDLERS = (
    f"def GET(request, {PARAMS}):\n    return 1\n",
    f"def GET(request, {PARAMS}):\n    return 1\n\ndef POST(request, {PARAMS}):\n    return 2\n",
    "from fastapi_route import route\n\n"
    f"@route(operation_id='chosen')\ndef GET(request, {PARAMS}):\n    return 1\n",
    "from fastapi_route import route\n\n"
    f"@route(operation_id='get_a')\ndef PUT(request, {PARAMS}):\n    return 1\n",
    "def get(request):\n    return 1\n",
    "def GET(request:\n",
)


@pytest.mark.parametrize("seed", range(4))
def test_random_saves_give_what_a_full_validation_gives(tmp_path: Path, seed: int) -> None:
    """Random writes, deletes and layouts over folders built to collide: after each, the
    rules between files kept in step (`Checked`) give the problems and the table that
    validating the whole tree gives."""
    rng = random.Random(seed)
    # Enough routes that a save's few are sorted into the last table, not the whole sorted.
    many = {f"routes/s{i}/[id]/route.py": HANDLERS[1] for i in range(40)}
    root = write_tree(tmp_path / "app", {"routes/index.py": HANDLERS[0], **many})
    config = load_config(root)
    tree = Tree(root)
    facts = Facts()
    facts.track()
    checked = Checked()
    validate(scan(root, config, facts=facts), config, checked)
    seen: set[str] = set()
    for step in range(80):
        folder = rng.choice(FOLDERS)
        rel = "/".join(p for p in ("routes", folder) if p)
        existing = sorted(str(p.relative_to(root)) for p in (root / "routes").rglob("*.py"))
        what = rng.random()
        if what < 0.25 and existing:
            victim = rng.choice(existing)
            changed = tree.delete(victim)
        elif what < 0.35:
            changed = tree.write(f"{rel}/_layout.py", f"tags = ['t{step}']\n")
        else:
            name = rng.choice(("route.py", "route.py", "index.py"))
            changed = tree.write(f"{rel}/{name}", rng.choice(HANDLERS))
        try:
            partial = _compare(root, config, facts, changed, checked)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, step {step}: {exc}") from exc
        seen.update(p.code for p in validate(partial, config)[1])
    assert {"ROUTE_FILE_CONFLICT", "DYNAMIC_CONFLICT", "DUPLICATE_ROUTE", "AMBIGUOUS_ROUTE",
            "DUPLICATE_OPERATION_ID", "INVALID_SEGMENT"} <= seen, seen


def test_a_new_sibling_that_changes_the_conflict_reported_is_seen_below_it(
        tmp_path: Path) -> None:
    """[id] and [uid] conflict, so the routes below them are not also reported as ambiguous;
    a new [aa] sorts first and the conflicts named become ([aa], [id]) and ([aa], [uid]): the
    routes below [id] and [uid], in files no save touched, are ambiguous now."""
    get = f"def GET(request, {PARAMS}):\n    return 1\n"
    root = write_tree(tmp_path / "app", {"routes/a/[id]/x/route.py": get,
                                         "routes/a/[uid]/x/route.py": get})
    config = load_config(root)
    tree, facts, checked = Tree(root), Facts(), Checked()
    facts.track()
    validate(scan(root, config, facts=facts), config, checked)
    partial = _compare(root, config, facts, tree.write("routes/a/[aa]/route.py", get), checked)
    assert "AMBIGUOUS_ROUTE" in {p.code for p in validate(partial, config)[1]}


def test_a_change_no_one_told_is_not_seen_until_a_full_walk(tmp_path: Path) -> None:
    """What the partial walk trusts: the watcher's paths. Asked for, a full walk sees all."""
    root = write_tree(tmp_path / "app", TREE)
    config = load_config(root)
    facts = Facts()
    facts.track()
    scan(root, config, facts=facts)
    write_tree(root, {"routes/untold/route.py": GET % "untold"})
    assert "routes/untold/route.py" not in {f.file for f in scan(root, config, facts=facts).files}
    facts.walk_everything()
    assert "routes/untold/route.py" in {f.file for f in scan(root, config, facts=facts).files}


def test_a_path_spelled_another_way_is_read_by_a_full_walk(tmp_path: Path) -> None:
    """A watcher may name the root by another path (macOS's /private/var for /var): a
    change it reports is never dropped for that."""
    real = write_tree(tmp_path / "real", TREE)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    for root, told in ((tmp_path / "link", real), (real, tmp_path / "link")):
        config = load_config(root)
        facts = Facts()
        facts.track()
        scan(root, config, facts=facts)
        name = f"routes/seen_{root.name}/route.py"
        write_tree(root, {name: GET % "seen"})
        got = _compare(root, config, facts, {str(told / name)})
        assert name in {f.file for f in got.files}


def test_a_tree_with_a_symlinked_folder_is_walked_whole_each_time(tmp_path: Path) -> None:
    """A change behind a link is not a path below the root: no watcher reports it."""
    root = write_tree(tmp_path / "app", TREE)
    outside = write_tree(tmp_path / "outside", {"route.py": GET % "linked"})
    (root / "routes/linked").symlink_to(outside, target_is_directory=True)
    config = load_config(root)
    facts = Facts()
    facts.track()
    scan(root, config, facts=facts)
    write_tree(outside, {"more/route.py": GET % "more"})  # nothing below the root changed
    got = _compare(root, config, facts, set())
    assert "routes/linked/more/route.py" in {f.file for f in got.files}


def test_an_edit_in_a_tree_read_partially_is_still_read_again(tmp_path: Path) -> None:
    """A file in a folder read again is checked by size and mtime, as before."""
    root = write_tree(tmp_path / "app", TREE)
    config = load_config(root)
    facts = Facts()
    facts.track()
    scan(root, config, facts=facts)
    tree = Tree(root)
    changed = tree.write("routes/deep/a/b/c/route.py", "def GET(request):\n    return 1\n"
                         "\ndef DELETE(request):\n    return 2\n")
    got = _compare(root, config, facts, changed)
    file = next(f for f in got.files if f.file == "routes/deep/a/b/c/route.py")
    assert set(file.handlers()) == {"GET", "DELETE"}


# ------------------------------------------------------------- a dev server, with its watcher

WAIT = 20.0


class _Server:
    should_exit = False


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not served within {WAIT} s: {what}")
        await asyncio.sleep(0.02)


async def _served(client: httpx.AsyncClient, url: str, want: Any) -> bool:
    got = await client.get(url)
    return got.status_code == 200 and got.json() == want if want is not None else (
        got.status_code == 404)


async def _dev_session(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    project = Project(root)
    config = load_config(root)
    dev = DevApp(project, config)
    dev.build()
    assert dev.app is not None and dev.error is None, dev.error
    # Each reload's scan waits until the test lets it go: a reload on the event loop would
    # keep every request waiting meanwhile.
    entered, release, done = threading.Event(), threading.Event(), threading.Event()
    compile_table = devserver.compile_table

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(WAIT)
        done.set()
        return compile_table(*args, **kwargs)

    monkeypatch.setattr(devserver, "compile_table", held)
    release.set()  # the settling reload at the watcher's start goes through
    stop = asyncio.Event()
    watching = asyncio.create_task(_watch(dev, Watcher(project, config), _Server(), stop))
    answered_while_held: list[str] = []
    transport = httpx.ASGITransport(app=dev)
    async with httpx.AsyncClient(transport=transport, base_url="http://dev") as client:

        async def ready() -> bool:
            write_tree(root, {"routes/ready/route.py": GET % "ready"})
            await asyncio.sleep(0.2)
            return await _served(client, "/ready", {"at": "ready"})

        await _until(ready, "/ready")

        async def held_change(change: Callable[[], None], url: str, want: Any) -> None:
            # The last change is over: a write the watcher saw in two batches (its steps are
            # 10 ms) has had its second reload, which must not pass for this change's.
            await asyncio.sleep(0.1)
            while dev._reloading is not None and dev._reloading.locked():
                await asyncio.sleep(0.01)
            release.clear()
            entered.clear()
            done.clear()
            change()
            await asyncio.to_thread(entered.wait, WAIT)  # the reload is reading the tree
            steady = await client.get("/users")  # untouched, while the reload is held
            if not done.is_set() and steady.json() == {"at": "users"}:
                answered_while_held.append(url)
            release.set()
            await _until(lambda: _served(client, url, want), url)

        await held_change(lambda: write_tree(root, {"routes/deep/a/b/c/route.py":
                                                    GET % "edited"}),
                          "/deep/a/b/c", {"at": "edited"})
        await held_change(lambda: write_tree(root, {"routes/fresh/[n=int]/route.py":
                                                    "def GET(request, n):\n    return n\n"}),
                          "/fresh/7", 7)
        await held_change(lambda: os.rename(root / "routes/fresh", root / "routes/renamed"),
                          "/renamed/8", 8)
        await held_change(lambda: shutil.rmtree(root / "routes/renamed"), "/renamed/8", None)
        await held_change(lambda: write_tree(root, {"routes/(admin)/_layout.py":
                                                    "tags = ['changed']\n"}),
                          "/settings", {"at": "settings"})
        tags = (await client.get("/openapi.json")).json()["paths"]["/settings"]["get"]["tags"]
        assert tags == ["changed"]  # a layout applies anew to every route below it
    stop.set()
    await asyncio.wait_for(watching, WAIT)
    return answered_while_held


def test_dev_serves_each_change_and_an_untouched_route_answers_while_it_reloads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "app", TREE)
    answered = asyncio.run(_dev_session(root, monkeypatch))
    assert answered == ["/deep/a/b/c", "/fresh/7", "/renamed/8", "/renamed/8", "/settings"]


# ---------------------------------------------------------------- the frozen heap lets go

ROUTE = """
class _Mark:
    pass

_MARK = _Mark()

def GET(request):
    return {"version": %d}
"""


@pytest.mark.parametrize("how", ["in this thread", "off the loop"])
def test_a_frozen_heap_keeps_no_replaced_table(tmp_path: Path, how: str) -> None:
    """With freeze (the `dev` command), what a reload replaces is still collected: the
    modules of the previous table are collected before the heap is frozen again."""
    root = write_tree(tmp_path / "app", {"routes/held/route.py": ROUTE % 0})
    app = DevApp(Project(root), load_config(root), freeze=True)
    reload = app.reload_routes if how == "in this thread" else (
        lambda: asyncio.run(app.reload()))
    refs: list[weakref.ref[object]] = []
    try:
        app.build()
        assert gc.get_freeze_count() > 0
        with TestClient(app) as client:
            for version in range(1, 6):
                write_tree(root, {"routes/held/route.py": ROUTE % version})
                # as the watcher does first: five saves of one size within a second
                devserver._forget_bytecode({str(root / "routes/held/route.py")})
                reload()
                assert client.get("/held").json() == {"version": version}
                module = next(m for name, m in list(sys.modules.items())
                              if name.endswith(".held.route") and hasattr(m, "_MARK"))
                refs.append(weakref.ref(module._MARK))
                del module
            reload()  # the last one replaced too
            gc.collect()
            assert [ref() is None for ref in refs] == [True] * 5
    finally:
        gc.unfreeze()


def test_a_reload_keeps_the_registrars_tables_those_of_its_table(tmp_path: Path) -> None:
    """The methods of each path and the operation ids the stand-ins use after a reload (taken
    from the last table's registrar where its records did not change) are those of the new
    table, worked out whole: after an edit of a body, a new method on a path, a new folder
    and a deleted file. Over HTTP, a 405 names the methods and the document the ids."""
    tree = {f"routes/p{i}/route.py": GET % i for i in range(40)}
    root = write_tree(tmp_path / "app", tree)
    dev = DevApp(Project(root), load_config(root))
    dev.build()
    dev.facts.track()
    dev.reload_routes()
    steps = [
        ("routes/p3/route.py", GET % "edited"),
        ("routes/p4/route.py", GET % 4 + "\ndef POST(request):\n    return 1\n"),
        ("routes/new/[id]/route.py", "def GET(request, id):\n    return id\n"),
        ("routes/p5/route.py", None),
    ]
    for rel, text in steps:
        if text is None:
            (root / rel).unlink()
        else:
            write_tree(root, {rel: text})
        dev.reload_routes({str(root / rel), str((root / rel).parent)})
        assert dev.app is not None and dev.error is None
        file_routes = runtime_of(dev.app).file_routes
        registrar = file_routes.lazy[0].registrar
        table = list(file_routes.table)
        assert registrar.methods == methods_by(table, "path"), rel
        assert registrar.operation_ids == {id(r): n for r, n in operation_ids(table).items()}, rel
    with TestClient(dev) as client:
        assert set(client.put("/p4").headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
        assert "get_new_id" in client.get("/openapi.json").text
        assert client.get("/p5").status_code == 404


def test_dev_facts_see_a_file_put_back_with_its_old_mtime(tmp_path: Path) -> None:
    """`dev` reuses what a file said while its stamp holds: the same rule as the stale
    check's, ctime included, so a file `tar` or `rsync -t` put back with the old mtime and
    size is read again."""
    root = write_tree(tmp_path / "app", {"routes/a/route.py": "def GET(request, x: int):\n"
                                                              "    return {}\n"})
    config = load_config(root)
    facts = Facts()
    first = scan(root, config, facts=facts)
    path = root / "routes/a/route.py"
    before = os.stat(path)
    path.write_text(path.read_text().replace("x: int", "x: str"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = scan(root, config, facts=facts)
    assert first.files[0].definitions[0].annotations == (("x", "int"),)
    assert again.files[0].definitions[0].annotations == (("x", "str"),)
