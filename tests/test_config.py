"""config.py: defaults < config.py < flags, and clear errors naming the file, line and key."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastapi_route.config import load_config
from fastapi_route.errors import ConfigError
from fastapi_route.settings import BuildConfig, Config, LoggingConfig, ServerConfig


def config_error(root: Path, **kwargs: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(root, **kwargs)
    text = str(info.value)
    assert "Traceback" not in text
    return text


# --------------------------------------------------------------------------- defaults


def test_defaults_without_config_file(tmp_path):
    config = load_config(tmp_path)
    assert config == Config()
    assert config.app_name == "FastAPI Route App"
    assert config.debug is False
    assert config.version == "1.0.0"
    assert config.description == ""
    assert config.route_dir == "routes"
    assert config.static_dir == "public"
    assert config.cors_enabled is False
    assert config.cors_origins == ("*",)
    assert config.docs_enabled is True
    assert config.openapi_url == "/openapi.json"
    assert config.server == ServerConfig(host=None, port=8000, workers=1, options={})
    assert config.logging == LoggingConfig(level="INFO", production_level="WARNING")
    assert config.build == BuildConfig(
        cache_dir=".cache",
        compression_level=6,
        exclude_patterns=(),
        include_patterns=(),
        require_request=True,
    )
    assert config.commands == {}


def test_empty_config_file_gives_defaults(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": '"""Nothing set."""\n'})
    assert load_config(root) == Config()


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().debug = True  # type: ignore[misc]


# --------------------------------------------------------------------------- values


def test_values_are_read_from_config_py(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                app_name = "My API"
                debug = True
                version = "2.3.4"
                description = "An API"
                route_dir = "api/routes"
                static_dir = "static"
                cors_enabled = True
                cors_origins = ["https://a.example", "https://b.example"]
                cors_allow_credentials = True
                cors_allow_methods = ["GET", "POST"]
                cors_allow_headers = ["X-Token"]
                docs_enabled = False
                openapi_url = "/api/openapi.json"
                server = {"host": "0.0.0.0", "port": 9000, "workers": 4}
                logging = {"level": "debug", "production_level": "Error"}
                build = {
                    "cache_dir": "build/cache",
                    "compression_level": 9,
                    "exclude_patterns": ["admin/*"],
                    "include_patterns": ["*.py"],
                    "require_request": False,
                }
                commands = {"deploy": "fastapi-route build && echo {server.port}"}
            """,
        },
    )
    config = load_config(root)
    assert config.app_name == "My API"
    assert config.debug is True
    assert config.version == "2.3.4"
    assert config.description == "An API"
    assert config.route_dir == "api/routes"
    assert config.static_dir == "static"
    assert config.cors_enabled is True
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.cors_allow_credentials is True
    assert config.cors_allow_methods == ("GET", "POST")
    assert config.cors_allow_headers == ("X-Token",)
    assert config.docs_enabled is False
    assert config.openapi_url == "/api/openapi.json"
    assert config.server == ServerConfig(host="0.0.0.0", port=9000, workers=4, options={})
    assert config.logging == LoggingConfig(level="DEBUG", production_level="ERROR")
    assert config.build == BuildConfig(
        cache_dir="build/cache",
        compression_level=9,
        exclude_patterns=("admin/*",),
        include_patterns=("*.py",),
        require_request=False,
    )
    assert config.commands == {"deploy": "fastapi-route build && echo {server.port}"}


def test_partial_section_keeps_other_defaults(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": 'build = {"compression_level": 2}\n'})
    config = load_config(root)
    assert config.build == BuildConfig(compression_level=2)
    assert config.server == ServerConfig()


def test_environment_variables_in_config(tmp_path, make_tree, monkeypatch):
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                import os

                _port = int(os.environ.get("PORT", 8000))
                server = {"port": _port, "workers": int(os.environ.get("WORKERS", "2"))}
                debug = os.environ.get("APP_DEBUG", "0") == "1"
            """,
        },
    )
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("APP_DEBUG", "1")
    monkeypatch.delenv("WORKERS", raising=False)
    config = load_config(root)
    assert (config.server.port, config.server.workers, config.debug) == (9123, 2, True)
    monkeypatch.delenv("PORT")
    monkeypatch.setenv("APP_DEBUG", "0")
    config = load_config(root)
    assert (config.server.port, config.debug) == (8000, False)


def test_config_file_is_reread_each_time(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": 'app_name = "one"\n'})
    assert load_config(root).app_name == "one"
    make_tree(tmp_path, {"config.py": 'app_name = "two"\n'})
    assert load_config(root).app_name == "two"


def test_config_sees_its_own_file_path(tmp_path, make_tree):
    root = make_tree(
        tmp_path / "shop",
        {
            "config.py": """
                from pathlib import Path

                app_name = Path(__file__).resolve().parent.name
            """,
        },
    )
    assert load_config(root).app_name == "shop"


def test_modules_functions_classes_and_private_names_are_not_settings(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                import os
                import os.path
                import json as _json
                from pathlib import Path
                from collections import OrderedDict


                def helper():
                    return "x"


                async def another():
                    return None


                class Settings:
                    colour = "blue"


                _private = {"whatever": 1}
                _cache = [1, 2, 3]
                __version__ = "9"
                app_name = helper() + Path("y").name
            """,
        },
    )
    assert load_config(root).app_name == "xy"


def test_names_bound_by_imports_are_not_settings(tmp_path, make_tree):
    # `from __future__ import annotations` binds a non-callable `annotations`, and
    # `from os import environ` / `TYPE_CHECKING` bind data: none of them is a setting.
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                from __future__ import annotations

                from os import environ, sep
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    pass
                debug = environ.get("SURELY_NOT_SET_ANYWHERE", "") == "" and sep != ""
            """,
        },
    )
    assert load_config(root).debug is True


def test_a_known_setting_imported_from_a_shared_module_is_used(tmp_path, make_tree, monkeypatch):
    shared = make_tree(
        tmp_path / "shared",
        {"fastapi_route_test_base_settings.py": 'app_name = "Base"\nversion = 3\n'},
    )
    monkeypatch.syspath_prepend(str(shared))
    root = make_tree(
        tmp_path / "app",
        {"config.py": "from fastapi_route_test_base_settings import app_name\n"},
    )
    assert load_config(root).app_name == "Base"
    make_tree(root, {"config.py": "from fastapi_route_test_base_settings import version\n"})
    text = config_error(root)
    assert "config.py:1" in text and "'version'" in text


# --------------------------------------------------------------------------- errors


def test_unknown_key_names_file_line_and_key(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                app_name = "x"

                colour = "blue"
            """,
        },
    )
    text = config_error(root)
    assert text.startswith("UNKNOWN_CONFIG_KEY config.py:3 'colour' is not a known setting")
    assert "\n  hint: " in text


def test_unknown_key_inside_an_if_block_has_its_line(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                import os

                if os.environ.get("SURELY_NOT_SET_ANYWHERE") is None:
                    app_name = "x"
                    prot = 8000
                else:
                    app_name = "y"
            """,
        },
    )
    text = config_error(root)
    assert "config.py:5 'prot'" in text


def test_unknown_port_at_top_level_is_an_error(tmp_path, make_tree):
    # the port lives in `server`; a top-level `port` is a typo, not silently ignored
    root = make_tree(tmp_path, {"config.py": "import os\nport = int(os.environ.get('P', 1))\n"})
    text = config_error(root)
    assert "config.py:2 'port'" in text


def test_wrong_type(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": 'app_name = "x"\ndebug = "yes"\n'})
    text = config_error(root)
    assert text.startswith("INVALID_CONFIG config.py:2 'debug' must be True or False, got 'yes'")


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('app_name = 3', "'app_name'"),
        ("cors_origins = '*'", "'cors_origins'"),
        ("cors_origins = ['a', 1]", "'cors_origins'"),
        ("docs_enabled = 1", "'docs_enabled'"),
        ("openapi_url = 'openapi.json'", "'openapi_url'"),
        ("route_dir = '../elsewhere'", "'route_dir'"),
        ("route_dir = '/abs/routes'", "'route_dir'"),
        ("static_dir = '.'", "'static_dir'"),
        ("commands = ['build']", "'commands'"),
        ("commands = {'deploy': 1}", "'commands'"),
        ("server = 8000", "'server'"),
        ("server = {'port': '8000'}", "'server.port'"),
        ("server = {'port': 0}", "'server.port'"),
        ("server = {'port': 65536}", "'server.port'"),
        ("server = {'workers': 0}", "'server.workers'"),
        ("server = {'host': None}", "'server.host'"),
        ("logging = {'level': 'LOUD'}", "'logging.level'"),
        ("build = {'compression_level': True}", "'build.compression_level'"),
        ("build = {'compression_level': 5.0}", "'build.compression_level'"),
        ("build = {'exclude_patterns': 'admin/*'}", "'build.exclude_patterns'"),
        ("build = {'require_request': 'no'}", "'build.require_request'"),
        ("build = {'cache_dir': '../cache'}", "'build.cache_dir'"),
    ],
)
def test_invalid_values(tmp_path, make_tree, line, key):
    root = make_tree(tmp_path, {"config.py": f"# settings\n{line}\n"})
    text = config_error(root)
    assert text.startswith(f"INVALID_CONFIG config.py:2 {key} ")


@pytest.mark.parametrize("level", [0, 10, -1])
def test_compression_level_out_of_range(tmp_path, make_tree, level):
    root = make_tree(tmp_path, {"config.py": f'build = {{"compression_level": {level}}}\n'})
    text = config_error(root)
    assert text.startswith("INVALID_CONFIG config.py:1 'build.compression_level'")
    assert "from 1 to 9" in text and f"got {level}" in text


@pytest.mark.parametrize("level", [1, 9])
def test_compression_level_bounds_are_accepted(tmp_path, make_tree, level):
    root = make_tree(tmp_path, {"config.py": f'build = {{"compression_level": {level}}}\n'})
    assert load_config(root).build.compression_level == level


def test_unknown_build_sub_key(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                debug = False
                build = {
                    "compresion_level": 5,
                }
            """,
        },
    )
    text = config_error(root)
    assert text.startswith("INVALID_CONFIG config.py:2 'build.compresion_level' is not a known")
    assert "compression_level" in text  # the hint lists the real keys


def test_unknown_logging_sub_key(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": 'logging = {"lvl": "INFO"}\n'})
    assert "config.py:1 'logging.lvl' is not a known setting" in config_error(root)


def test_cache_dir_may_not_be_the_route_dir(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": '_x = 1\nbuild = {"cache_dir": "routes"}\n'})
    text = config_error(root)
    assert "config.py:2 'build.cache_dir'" in text


def test_exception_in_config_names_line_and_exception(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                app_name = "x"
                debug = False
                ratio = 1 / 0
            """,
        },
    )
    text = config_error(root)
    assert text.startswith("CONFIG_ERROR config.py:3 ")
    assert "ZeroDivisionError" in text


def test_exception_in_imported_module_points_at_the_import(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": "import os\nimport no_such_module_for_config_xyz\n"})
    text = config_error(root)
    assert text.startswith("CONFIG_ERROR config.py:2 ")
    assert "ModuleNotFoundError" in text


@pytest.mark.parametrize(
    "statement", ["sys.exit()", "sys.exit(1)", "raise SystemExit(3)", "exit()"]
)
def test_exit_in_config_becomes_config_error(tmp_path, make_tree, statement):
    root = make_tree(tmp_path, {"config.py": f"import sys\n\n{statement}\n"})
    # pytest.raises(ConfigError) would not catch a SystemExit: the process would end
    text = config_error(root)
    assert text.startswith("CONFIG_ERROR config.py:3 ")
    assert "SystemExit" in text


def test_syntax_error_in_config(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": 'app_name = "x"\ndebug = = True\n'})
    text = config_error(root)
    assert text.startswith("CONFIG_ERROR config.py:2 syntax error")


def test_several_bad_keys_are_reported_at_once(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                debug = "yes"
                colour = "blue"
                build = {"compression_level": 0, "speed": 3}
                server = {"port": 0, "proxy_headers": True}
            """,
        },
    )
    text = config_error(root)
    for expected in (
        "INVALID_CONFIG config.py:1 'debug'",
        "UNKNOWN_CONFIG_KEY config.py:2 'colour'",
        "INVALID_CONFIG config.py:3 'build.compression_level'",
        "INVALID_CONFIG config.py:3 'build.speed'",
        "INVALID_CONFIG config.py:4 'server.port'",
    ):
        assert expected in text, text
    assert text.count("\n  hint: ") == 5
    assert "proxy_headers" not in text


def test_display_root_prefixes_the_file(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": "colour = 1\n"})
    text = config_error(root, display_root="myapp")
    assert text.startswith("UNKNOWN_CONFIG_KEY myapp/config.py:1 'colour'")


# --------------------------------------------------------------------------- server options


def test_server_extra_keys_go_to_options(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {
            "config.py": """
                server = {
                    "host": "0.0.0.0",
                    "port": 9000,
                    "proxy_headers": True,
                    "timeout_keep_alive": 30,
                    "forwarded_allow_ips": "*",
                }
            """,
        },
    )
    server = load_config(root).server
    assert (server.host, server.port, server.workers) == ("0.0.0.0", 9000, 1)
    assert dict(server.options) == {
        "proxy_headers": True,
        "timeout_keep_alive": 30,
        "forwarded_allow_ips": "*",
    }


def test_server_without_extras_has_empty_options(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": 'server = {"port": 1234}\n'})
    assert dict(load_config(root).server.options) == {}


# --------------------------------------------------------------------------- overrides


def test_with_build_overrides_only_what_is_given(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {"config.py": 'build = {"compression_level": 3, "exclude_patterns": ["a/*"]}\n'},
    )
    config = load_config(root)
    changed = config.with_build(compression_level=9)
    assert changed.build.compression_level == 9
    assert changed.build.exclude_patterns == ("a/*",)
    assert changed.build.cache_dir == ".cache"
    assert config.build.compression_level == 3  # the original is untouched
    assert dataclasses.replace(changed, build=config.build) == config


def test_server_keeps_uvicorn_options_beside_its_own_keys(tmp_path, make_tree):
    root = make_tree(
        tmp_path,
        {"config.py": 'server = {"host": "10.0.0.1", "port": 9000, "proxy_headers": True}\n'},
    )
    server = load_config(root).server
    assert (server.host, server.port, server.workers) == ("10.0.0.1", 9000, 1)
    assert dict(server.options) == {"proxy_headers": True}


# --------------------------------------------------------------------------- uvicorn options


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("prot", "is not a uvicorn setting"),
        ("app", "is set by fastapi-route itself"),
        ("factory", "is set by fastapi-route itself"),
        ("reload", "is set by fastapi-route itself"),
        ("reload_dirs", "is set by fastapi-route itself"),
        ("reload_includes", "is set by fastapi-route itself"),
    ],
)
def test_server_options_are_checked_when_config_is_loaded(tmp_path, make_tree, key, message):
    root = make_tree(tmp_path, {"config.py": f'debug = True\n\nserver = {{"{key}": 1}}\n'})
    text = config_error(root)
    assert f"INVALID_CONFIG config.py:3 'server.{key}' {message}" in text
    assert "hint:" in text


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in a build hook's environment without uvicorn: importing it fails."""
    from fastapi_route.settings import _uvicorn_settings

    _uvicorn_settings.cache_clear()
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` raises ImportError
    yield
    _uvicorn_settings.cache_clear()


@pytest.mark.usefixtures("no_uvicorn")
def test_without_uvicorn_only_the_reserved_server_options_are_refused(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": 'server = {"prot": 1}\n'})
    assert dict(load_config(root).server.options) == {"prot": 1}
    root = make_tree(tmp_path, {"config.py": 'server = {"factory": True}\n'})
    assert "'server.factory' is set by fastapi-route itself" in config_error(root)


def test_commands_may_not_take_a_built_in_name(tmp_path, make_tree):
    root = make_tree(tmp_path, {"config.py": """
        app_name = "x"
        commands = {
            "deploy": "echo ok",
            "run": "echo mine",
        }
    """})
    text = config_error(root)
    assert "INVALID_CONFIG config.py:2 'commands.run' is a built-in command" in text
    assert "deploy" not in text.splitlines()[0]


@pytest.mark.parametrize(("line", "code"), [
    ('route_dir = "params"', "route_dir ('params') is in params/"),
    ('static_dir = "params/files"', "static_dir ('params/files') is in params/"),
])
def test_routes_and_static_files_stay_out_of_the_segment_types_folder(
        tmp_path, make_tree, line, code):
    root = make_tree(tmp_path, {"config.py": f'app_name = "x"\n{line}\n'})
    text = config_error(root)
    assert text.startswith(f"INVALID_CONFIG config.py:2 {code}"), text
    assert "\n  hint: give the " in text
