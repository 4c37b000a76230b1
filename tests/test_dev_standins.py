"""`dev` keeps what a save did not change (issue 19 part 4): the stand-in of each route whose
record is the same, and the dispatcher's index, updated for the routes that came or went.

What must hold: after a save only the changed routes are new stand-ins; a route made real is
made again (its file, its layouts and helpers imported anew), so a changed helper or layout is
seen by routes whose files did not change; after any sequence of saves `dev` serves exactly
what a fresh app on the same tree serves, with an index that answers as a fresh one; and the
frozen heap never keeps a replaced module."""

from __future__ import annotations

import asyncio
import gc
import random
import shutil
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import write_tree
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Route

from fastapi_route.config import load_config
from fastapi_route.naming import operation_ids
from fastapi_route.project import Project
from fastapi_route.runtime.app import runtime_of
from fastapi_route.runtime.devserver import DevApp, _forget_bytecode
from fastapi_route.runtime.dispatch import RouteIndex
from fastapi_route.runtime.ondemand import LazyRoute, OnDemandRoutes
from fastapi_route.table import methods_by

ROUTE = "from .._lib.util import VALUE\n\ndef GET(request):\n    return {'at': %r, 'v': VALUE}\n"
PLAIN = "def GET(request):\n    return {'at': %r}\n"


def _dev(root: Path, freeze: bool = False) -> DevApp:
    dev = DevApp(Project(root), load_config(root), freeze=freeze)
    dev.build()
    dev.facts.track()  # as the watcher does: from here on each change is told
    dev.reload_routes()
    assert dev.error is None, dev.error
    return dev


def _save(dev: DevApp, root: Path, files: dict[str, str | None]) -> None:
    """Write (or, for None, delete) files and reload with the paths a watcher reports."""
    told: set[str] = set()
    for rel, text in files.items():
        path = root / rel
        new = [p for p in path.parents if not p.exists() and root in p.parents]
        if text is None:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        else:
            write_tree(root, {rel: text})
        told |= {str(path), *(str(p) for p in new)}
    _forget_bytecode(told)
    dev.reload_routes(told)


def _routes(dev: DevApp) -> OnDemandRoutes:
    assert dev.app is not None
    return runtime_of(dev.app).file_routes


def _stand_ins(dev: DevApp) -> dict[str, LazyRoute]:
    return {lazy.path: lazy for lazy in _routes(dev).lazy}


def test_the_watchers_first_reload_keeps_what_the_build_made(tmp_path: Path) -> None:
    """The whole walk the watcher starts with (what changed while the first build read the
    tree) makes nothing anew for files that did not change: the same records, stand-ins and
    folder listings, so the collection after it has only that reload's own objects."""
    root = write_tree(tmp_path / "app", {f"routes/p{i}/route.py": PLAIN % i for i in range(6)})
    dev = DevApp(Project(root), load_config(root), freeze=True)
    dev.build()
    before, records = _stand_ins(dev), list(_routes(dev).table)
    listings = dict(dev.facts._tree.folders) if dev.facts._tree else {}
    dev.facts.track()
    dev.reload_routes()  # the watcher's first: a whole walk
    assert dev.error is None, dev.error
    assert _stand_ins(dev) == before and all(
        a is b for a, b in zip(_routes(dev).table, records, strict=True))
    assert dev.facts._tree is not None and listings
    assert all(dev.facts._tree.folders[rel] is listing for rel, listing in listings.items())
    gc.unfreeze()


def test_the_watchers_first_reload_sees_what_changed_during_the_build(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {f"routes/p{i}/route.py": PLAIN % i for i in range(3)})
    dev = DevApp(Project(root), load_config(root))
    dev.build()
    before = _stand_ins(dev)
    # written after the build read the tree, before the watcher started: never told
    write_tree(root, {"routes/p1/route.py": "# moved\n" + PLAIN % "moved",
                      "routes/late/route.py": PLAIN % "late"})
    _forget_bytecode({str(root / "routes/p1/route.py")})
    dev.facts.track()
    dev.reload_routes()
    now = _stand_ins(dev)
    assert set(now) == {"/p0", "/p1", "/p2", "/late"}
    assert now["/p0"] is before["/p0"] and now["/p2"] is before["/p2"]
    assert now["/p1"] is not before["/p1"]
    client = TestClient(dev)
    assert client.get("/p1").json() == {"at": "moved"}
    assert client.get("/late").json() == {"at": "late"}


def test_a_save_keeps_the_stand_ins_of_the_routes_it_did_not_change(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", {f"routes/p{i}/route.py": PLAIN % i for i in range(6)})
    dev = _dev(root)
    before = _stand_ins(dev)
    # p2's handler moves down a line (a new record); p3's body only changes (the same one)
    _save(dev, root, {"routes/p2/route.py": "# moved\n" + PLAIN % "moved",
                      "routes/p3/route.py": PLAIN % "body",
                      "routes/new/route.py": PLAIN % "new"})
    after = _stand_ins(dev)
    assert {p for p in after if after[p] is before.get(p)} == {f"/p{i}" for i in (0, 1, 3, 4, 5)}
    assert after["/p2"] is not before["/p2"] and "/new" in after
    with TestClient(dev) as client:  # each in its place: the trie and the positions agree
        for i in (0, 1, 4, 5):
            assert client.get(f"/p{i}").json() == {"at": i}
        assert client.get("/p2").json() == {"at": "moved"}
        assert client.get("/p3").json() == {"at": "body"}  # its stand-in imports it anew
        assert client.get("/new").json() == {"at": "new"}
    _save(dev, root, {"routes/p4": None})
    with TestClient(dev) as client:
        assert client.get("/p4").status_code == 404  # a removed route is gone
        assert client.get("/p5").json() == {"at": 5}


def test_a_route_made_real_is_made_again_with_what_it_imports(tmp_path: Path) -> None:
    """A stand-in made real is not kept real: its file is imported again after a save, so a
    changed helper or layout reaches a route whose own file did not change."""
    root = write_tree(tmp_path / "app", {
        "routes/_lib/util.py": "VALUE = 1\n",
        "routes/a/route.py": ROUTE % "a",
        "routes/b/route.py": ROUTE % "b",
    })
    dev = _dev(root)
    with TestClient(dev) as client:
        assert client.get("/a").json() == {"at": "a", "v": 1}
        real_a = _stand_ins(dev)["/a"]
        assert real_a.real is not None
        _save(dev, root, {"routes/b/route.py": ROUTE % "b2"})  # a's file did not change
        assert _stand_ins(dev)["/a"] is not real_a  # made real: a new stand-in
        assert _stand_ins(dev)["/a"].real is None
        assert client.get("/a").json() == {"at": "a", "v": 1}
        _save(dev, root, {"routes/_lib/util.py": "VALUE = 22\n"})  # a helper both import
        assert client.get("/a").json() == {"at": "a", "v": 22}
        assert client.get("/b").json() == {"at": "b2", "v": 22}
        _save(dev, root, {"routes/_layout.py": "tags = ['shop']\n"})  # a layout above both
        tags = {p: op["get"].get("tags") for p, op in client.get("/openapi.json").json()[
            "paths"].items()}
        assert tags == {"/a": ["shop"], "/b": ["shop"]}


def test_a_stand_in_made_real_while_the_next_table_is_made_is_made_again(
        tmp_path: Path) -> None:
    """The reload's worker stages the next table while the app serves: a stand-in it keeps
    that a request makes real meanwhile (with the modules the swap drops) is a stand-in again
    in the table swapped in."""
    root = write_tree(tmp_path / "app", {"routes/_lib/util.py": "VALUE = 1\n",
                                         "routes/a/route.py": ROUTE % "a",
                                         "routes/b/route.py": ROUTE % "b"})
    dev = _dev(root)
    with TestClient(dev) as client:
        assert client.get("/b").json() == {"at": "b", "v": 1}  # the helper imported
        write_tree(root, {"routes/_lib/util.py": "VALUE = 333\n"})
        changed = {str(root / "routes/_lib/util.py")}
        _forget_bytecode(changed)
        dev.facts.changed(changed)
        prepared = dev._prepare(None)  # what the worker does
        assert client.get("/a").json() == {"at": "a", "v": 1}  # the old table, made real
        kept = _stand_ins(dev)["/a"]
        dev._swapped(dev._swap(prepared), 0.0)
        assert _stand_ins(dev)["/a"] is kept and kept.real is None
        assert client.get("/a").json() == {"at": "a", "v": 333}


# async: a sync handler runs in a worker thread of anyio's, whose idle frame may still hold
# the last function it ran (and so its module) when the next reload freezes the heap.
ROUTE_MARKED = """
class _Mark:
    pass

_MARK = _Mark()

async def GET(request):
    return {"version": %d}
"""


def _ask(dev: DevApp, path: str) -> object:
    """One GET in this thread, run to its end (a test client's thread may still hold the
    request's scope, and with it the route, when the next reload freezes the heap)."""
    async def get() -> object:
        transport = httpx.ASGITransport(app=dev)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get(path)).json()
    return asyncio.run(get())


def test_a_frozen_heap_keeps_no_module_of_a_route_a_save_left_alone(tmp_path: Path) -> None:
    """With freeze (the `dev` command): a route made real, then a save of another file,
    then a save of its own file: its first module is collected (a route kept real across a
    reload would have been frozen with its module, never to be collected)."""
    root = write_tree(tmp_path / "app", {"routes/a/route.py": ROUTE_MARKED % 0,
                                         "routes/b/route.py": ROUTE_MARKED % 0})
    dev = _dev(root, freeze=True)
    try:
        assert _ask(dev, "/a") == {"version": 0}
        module = sys.modules[_routes(dev).modules.module_name("routes/a/route.py")]
        ref = weakref.ref(module._MARK)
        del module
        _save(dev, root, {"routes/b/route.py": ROUTE_MARKED % 1})
        assert _ask(dev, "/a") == {"version": 0}
        _save(dev, root, {"routes/a/route.py": ROUTE_MARKED % 2})
        assert _ask(dev, "/a") == {"version": 2}
        gc.collect()
        assert ref() is None
    finally:
        gc.unfreeze()


def _paths(rng: random.Random) -> Iterator[str]:
    while True:
        yield rng.choice(["/x", "/x/1", "/x/1/y", "/a/b", "/a/b/c/d", "/", "/z", "/a",
                          "/q/r/s", "/x/", "/a/b/"])


def test_an_index_updated_answers_as_one_made_whole(tmp_path: Path) -> None:
    """`RouteIndex.updated` (the few routes that came or went taken out and put in) gives the
    candidates of an index of the new list made from scratch, over random lists."""
    rng = random.Random(7)
    templates = ["/x", "/x/{id}", "/x/{id}/y", "/a/b", "/a/{rest:path}", "/", "/z",
                 "/a/b/{c}/{d}", "/q/{r}/s", "/{any}", "/x/{id:int}"]

    def endpoint() -> None: ...

    pool: list[BaseRoute] = [Route(t, endpoint) for t in templates for _ in range(2)]
    routes = rng.sample(pool, 8)
    index = RouteIndex(routes)
    for _ in range(60):
        routes = list(routes)
        for _ in range(rng.randint(1, 2)):
            if routes and rng.random() < 0.5:
                routes.pop(rng.randrange(len(routes)))
            else:
                fresh = [r for r in pool if r not in routes]
                if fresh:
                    routes.insert(rng.randint(0, len(routes)), rng.choice(fresh))
        index = index.updated(routes, [id(r) for r in routes])
        whole = RouteIndex(routes)
        assert index.anywhere() == whole.anywhere()
        for path in (next(_paths(rng)) for _ in range(8)):
            got: set[int] = set()
            want: set[int] = set()
            index.candidates(path, got)
            whole.candidates(path, want)
            assert got == want, (path, [getattr(r, "path", None) for r in routes])


LAYOUT = "tags = [%r]\n"
# Routes no save touches: a table where a save changes few enough records for the tables of
# the last one to be updated rather than worked out whole (an eighth at most).
FILLER = [f"f{i}" for i in range(48)]
HELPED = "from .._lib.util import VALUE\n\ndef GET(request):\n    return {'at': %r, 'v': VALUE}\n"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_saves_serve_what_a_fresh_app_serves(tmp_path: Path, seed: int) -> None:
    """Edits, new folders, deletions, helper and layout changes, with requests between them
    (routes made real, then replaced): after each save every URL answers as in a fresh app
    on the same tree, and the dispatcher's index (updated) as one made whole."""
    rng = random.Random(seed)
    root = write_tree(tmp_path / "app", {
        "routes/_lib/util.py": "VALUE = 0\n",
        **{f"routes/s{i}/route.py": HELPED % f"s{i}" for i in range(4)},
        **{f"routes/{name}/route.py": PLAIN % name for name in FILLER},
        "routes/d/[id]/route.py": "def GET(request, id):\n    return {'d': id}\n",
    })
    dev = _dev(root)
    names = [f"s{i}" for i in range(4)]
    with TestClient(dev) as client:
        for step in range(25):
            kind = rng.choice(["edit", "edit", "method", "new", "new", "delete", "helper",
                               "layout"])
            files: dict[str, str | None]
            if kind == "edit" and names:
                name = rng.choice(names)
                files = {f"routes/{name}/route.py": HELPED % f"{name}.{step}"}
            elif kind == "method" and names:  # a second method on a path, or one fewer
                name = rng.choice(names)
                files = {f"routes/{name}/route.py": HELPED % name + (
                    "" if rng.random() < 0.3 else "def POST(request):\n    return 1\n")}
            elif kind == "new" or not names:
                # `c-1` and `c_1` get one operation id: the second one in the table gets `_2`
                name = rng.choice([f"n{step}", f"c-{step % 3}", f"c_{step % 3}"])
                if name in names:
                    name = f"n{step}"
                names.append(name)
                files = {f"routes/{name}/route.py": HELPED % name}
            elif kind == "delete":
                files = {f"routes/{names.pop(rng.randrange(len(names)))}": None}
            elif kind == "helper":
                files = {"routes/_lib/util.py": f"VALUE = {step}\n"}
            else:
                layout = rng.choice(["routes/_layout.py", f"routes/{rng.choice(names)}/_layout.py"])
                files = {layout: None if (root / layout).exists() and rng.random() < 0.5
                         else LAYOUT % f"t{step}"}
            _save(dev, root, files)
            assert dev.error is None, dev.error
            table = list(_routes(dev).table)  # the registrar's, updated, as worked out whole
            assert _routes(dev).registrar.methods == methods_by(table, "path"), step
            assert _routes(dev).registrar.operation_ids == {
                id(r): n for r, n in operation_ids(table).items()}, step
            urls = [f"/{n}" for n in names] + ["/d/7", "/gone", "/s0/x"]
            # Some routes asked (made real), the others left stand-ins for the next save;
            # every one, and the document, at the end.
            asked = urls if step == 24 else rng.sample(urls, 2)
            fresh = DevApp(Project(root), load_config(root))
            fresh.build()
            with TestClient(fresh) as other:
                for url in asked:
                    mine, theirs = client.get(url), other.get(url)
                    assert (mine.status_code, mine.content) == (
                        theirs.status_code, theirs.content), (step, kind, url)
                if step == 24:
                    assert client.get("/openapi.json").json() == other.get(
                        "/openapi.json").json()
            dispatcher = _routes(dev).dispatcher
            assert dispatcher is not None
            index = dispatcher._current_index()
            whole = RouteIndex(dev.app.router.routes)  # type: ignore[union-attr]
            for url in urls:
                got: set[int] = set()
                want: set[int] = set()
                index.candidates(url, got)
                whole.candidates(url, want)
                assert got | index.anywhere() == want | whole.anywhere(), (step, url)


def test_operation_ids_after_each_save_are_those_worked_out_whole(tmp_path: Path) -> None:
    """Routes whose words agree (`/a-b`, `/a_b`, `/a.b` are all `get_a_b`) and one whose
    words are another's numbered id (`/A_b_2`, first in the table): taking each away and
    putting it back, the registrar's ids (updated from the last table's where that is safe)
    are the whole table's."""
    names = ["a-b", "a_b", "a.b", "A_b_2", "x"]
    root = write_tree(tmp_path / "app", {f"routes/{n}/route.py": PLAIN % n
                                         for n in [*names, *FILLER]})
    dev = _dev(root)
    for name in [*names, *reversed(names)]:
        for text in (None, PLAIN % name):
            _save(dev, root, {f"routes/{name}": None} if text is None
                  else {f"routes/{name}/route.py": text})
            table = list(_routes(dev).table)
            assert _routes(dev).registrar.operation_ids == {
                id(r): n for r, n in operation_ids(table).items()}, (name, text is None)


def test_a_stand_in_left_out_of_the_new_table_is_made_real_with_its_own_tables(
        tmp_path: Path) -> None:
    """A request still on the replaced list (a sync handler's `url_for` in a thread, say)
    may make a stand-in real after the swap: one the new table did not keep (its record
    changed) is built with the registrar of the table it was in, which knows its record."""
    root = write_tree(tmp_path / "app", {"routes/p/route.py": PLAIN % "old",
                                         "routes/q/route.py": PLAIN % "q"})
    dev = _dev(root)
    old = _stand_ins(dev)["/p"]
    assert old.real is None
    _save(dev, root, {"routes/p/route.py": "# moved\n" + PLAIN % "new"})
    assert _stand_ins(dev)["/p"] is not old  # a new record: a new stand-in
    assert old.left is not None and old.left is not _routes(dev).registrar
    assert old.materialize() is not None and old.error is None
    assert isinstance(old.real, Route)
    kept = _stand_ins(dev)["/q"]
    assert kept.left is None and kept.registrar is _routes(dev).registrar
