"""One reader of a module's top-level names (`fastapi_route.bindings`), shared by the scan
(layouts, app.py, route files) and config.py's loader."""

from __future__ import annotations

import ast
import textwrap

import pytest
from conftest import write_tree

from fastapi_route.bindings import Binding, bound_names, top_level_bindings
from fastapi_route.config import load_config
from fastapi_route.errors import BuildFailed, ConfigError
from fastapi_route.pipeline.build import compile_table


def bindings(source: str) -> list[tuple[str, int, str]]:
    tree = ast.parse(textwrap.dedent(source))
    return [(b.name, b.line, b.kind) for b in top_level_bindings(tree.body)]


def test_every_top_level_block_is_read_in_file_order() -> None:
    assert bindings("""
        import os.path as p, sys
        from x import *
        try:
            a = 1
        except ImportError:
            b = 2
        else:
            c: int = 3
        finally:
            d += 1
        for e, (f, g) in []:
            h = 4
        with open(x) as i, open(y):
            j: int
        match sys:
            case _:
                k = 5
        while False:
            pass
        else:
            m = 6
        def n(self, /, o, *, q): l = 7
        class r:
            s = 8
    """) == [
        ("p", 2, "import"), ("sys", 2, "import"), ("a", 5, "value"), ("b", 7, "value"),
        ("c", 9, "value"), ("d", 11, "value"), ("e", 12, "value"), ("f", 12, "value"),
        ("g", 12, "value"), ("h", 13, "value"), ("i", 14, "value"), ("k", 18, "value"),
        ("m", 22, "value"), ("n", 23, "function"), ("r", 24, "class"),
    ]


def test_a_function_binding_records_what_the_rules_read() -> None:
    tree = ast.parse("async def middleware(request, call_next, *, extra=1): pass\n")
    assert top_level_bindings(tree.body) == [Binding("middleware", 1, "function", True, 2)]


def test_bound_names_of_one_statement_leave_its_blocks_alone() -> None:
    (node,) = ast.parse("if x:\n    GET = 1\n").body
    assert bound_names(node) == []
    (node,) = ast.parse("for GET in []:\n    pass\n").body
    assert bound_names(node) == ["GET"]


def test_a_name_a_layout_binds_with_for_is_checked_as_any_other(tmp_path) -> None:
    root = write_tree(tmp_path / "app", {
        "routes/index.py": "def GET(request):\n    return {}\n",
        "routes/_layout.py": "tags = []\nfor tag in ('a', 'b'):\n    tags.append(tag)\n",
    })
    with pytest.raises(BuildFailed) as failed:
        compile_table(root, load_config(root))
    problems = [(p.code, p.file, p.line) for p in failed.value.problems]
    assert problems == [("INVALID_LAYOUT", "routes/_layout.py", 2)]


def test_config_lines_come_from_the_same_reader(tmp_path) -> None:
    root = write_tree(tmp_path / "app", {
        "config.py": "import os\ntry:\n    pass\nexcept ImportError:\n    pass\n"
                     "else:\n    debug = 'yes'\n",
    })
    with pytest.raises(ConfigError) as error:
        load_config(root)
    assert "config.py:7 'debug' must be True or False" in str(error.value)
