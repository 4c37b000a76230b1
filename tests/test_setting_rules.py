"""Each `_layout.py` / `app.py` setting has one rule and one wording (pipeline/declarations.py):
the build says it when the AST shows the mistake, the runtime when only the import can."""

from __future__ import annotations

import pytest
from conftest import app_in_mode, write_tree

from fastapi_route.config import load_config
from fastapi_route.conventions import APP_NAMES, LAYOUT_NAMES
from fastapi_route.errors import BuildFailed, FastAPIRouteError
from fastapi_route.pipeline.build import compile_table
from fastapi_route.pipeline.declarations import APP_SETTINGS, LAYOUT_SETTINGS

INDEX = {"routes/index.py": "def GET(request):\n    return {}\n"}


def test_every_setting_has_its_rule() -> None:
    assert tuple(LAYOUT_SETTINGS) == LAYOUT_NAMES
    assert tuple(APP_SETTINGS) == APP_NAMES


# (file, what the build sees, what only an import shows, the setting's rule); a literal value
# is seen by the build (tests/test_setting_values.py), a call's result only by the import.
CASES = [
    ("routes/_layout.py", "def tags():\n    return []\n", "tags = str('users')\n",
     LAYOUT_SETTINGS["tags"]),
    ("routes/_layout.py", "def middleware(request, call_next):\n    pass\n",
     "from functools import partial as middleware\n", LAYOUT_SETTINGS["middleware"]),
    ("routes/_layout.py", "class exception_handlers:\n    pass\n",
     "exception_handlers = dict({404: 'not a function'})\n",
     LAYOUT_SETTINGS["exception_handlers"]),
    ("app.py", "def configure():\n    pass\n", "configure = int(1)\n", APP_SETTINGS["configure"]),
    ("app.py", "class middleware:\n    pass\n", "middleware = list([1])\n",
     APP_SETTINGS["middleware"]),
]


@pytest.mark.parametrize(("file", "seen", "imported", "setting"), CASES)
def test_the_build_and_the_runtime_say_one_rule_in_the_same_words(
    tmp_path, file, seen, imported, setting,
) -> None:
    root = write_tree(tmp_path / "built", {**INDEX, file: seen})
    with pytest.raises(BuildFailed) as failed:
        compile_table(root, load_config(root))
    assert [(p.file, p.message, p.hint) for p in failed.value.problems] == [
        (file, setting.message, setting.hint)]

    root = write_tree(tmp_path / "run", {**INDEX, file: imported})
    with pytest.raises(FastAPIRouteError) as error:
        app_in_mode(root, "eager")
    assert error.value.message.startswith(f"{file}: {setting.message}, got ")
    assert error.value.hint == setting.hint
