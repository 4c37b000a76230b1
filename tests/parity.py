"""What an OpenAPI document means, so that a FastAPI app and its file-tree port can be compared.

SPEC 9 promises that a ported tree loses no OpenAPI detail, while naming operations its own way
(operationId from the method and the URL words; summary and description from the docstring).
`openapi_meaning` keeps what a client of the API relies on and drops what legitimately differs:

- paths, with a trailing slash removed (`/items/` and `/items` are one path);
- per operation: its parameters (name, location, required, schema type), its responses
  (status code -> description, media types and their schema type), its tags in order,
  `deprecated`, and its request body (required, media types, schema type);
- the component schemas, but for FastAPI's `Body_<operationId>` ones, named after operationIds
  (a request body that refers to one is compared by that schema's content instead: its form
  fields, files and their descriptions);
- a streamed response's `itemSchema` (JSON Lines, Server-Sent Events), as it is;
- not `operationId`, `summary`, `description` (checked on their own: see
  `expected_operation_id`), nor `info` (the app's title and version).

Usage, with two `/openapi.json` documents:

    assert_same_meaning(original_client.get("/openapi.json").json(),
                        ported_client.get("/openapi.json").json())
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["PORT_MODES", "assert_same_meaning", "expected_operation_id", "normal_path",
           "openapi_meaning", "port_app"]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def normal_path(path: str) -> str:
    """A path template without its trailing slash (`/` stays `/`)."""
    return path.rstrip("/") or "/"


def expected_operation_id(method: str, path: str) -> str:
    """SPEC 9's operationId: lower snake case of the method and the URL's words.

    `("GET", "/users/{user_id}")` -> `get_users_user_id`; a `{name:path}` convertor is dropped;
    the root is `get_root`.
    """
    template = re.sub(r"\{(\w+)(?::\w+)?\}", r"\1", path)
    words = re.findall(r"[a-z0-9]+", template.lower())
    return "_".join([method.lower(), *(words or ["root"])])


def schema_type(schema: dict[str, Any] | None,
                bodies: dict[str, dict[str, Any]] | None = None) -> str:
    """A short description of a JSON schema's type: `string`, `integer`, `ref:Item`,
    `array[string]`, `integer|null`, or `any` for the empty schema. A reference to one of
    `bodies` (FastAPI's `Body_<operationId>` schemas, named after the operation) is that
    schema's content, `body:{...}`, which does not depend on the operation's name."""
    if not schema:
        return "any"
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        if bodies and name in bodies:
            return "body:" + json.dumps(bodies[name], sort_keys=True)
        return "ref:" + name
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return "|".join(sorted(schema_type(s) for s in schema[key]))
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return "|".join(sorted(kind))
    if kind == "array":
        return f"array[{schema_type(schema.get('items'))}]"
    return str(kind)


def _content(content: dict[str, Any] | None,
             bodies: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
    meaning = {}
    for media, body in (content or {}).items():
        meaning[media] = schema_type(body.get("schema"), bodies)
        if "itemSchema" in body:  # a stream: what each item is, as FastAPI documents it
            meaning[media] += " items:" + json.dumps(body["itemSchema"], sort_keys=True)
    return meaning


def _body_schemas(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """FastAPI's `Body_<operationId>` schemas without their title (the name again)."""
    return {
        name: {key: value for key, value in body.items() if key != "title"}
        for name, body in schema.get("components", {}).get("schemas", {}).items()
        if name.startswith("Body_")
    }


def _operation(operation: dict[str, Any],
               bodies: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    parameters = sorted(
        (p["name"], p["in"], bool(p.get("required", False)), schema_type(p.get("schema")))
        for p in operation.get("parameters", [])
    )
    responses = {
        str(code): {
            "description": response.get("description"),
            "content": _content(response.get("content")),
        }
        for code, response in operation.get("responses", {}).items()
    }
    body = operation.get("requestBody")
    return {
        "parameters": parameters,
        "responses": responses,
        "tags": list(operation.get("tags", [])),
        "deprecated": bool(operation.get("deprecated", False)),
        "requestBody": None if body is None else {
            "required": bool(body.get("required", False)),
            "content": _content(body.get("content"), bodies),
        },
    }


def openapi_meaning(schema: dict[str, Any]) -> dict[str, Any]:
    """`{"paths": {path: {method: operation meaning}}, "schemas": {name: schema}}`."""
    paths: dict[str, dict[str, Any]] = {}
    bodies = _body_schemas(schema)
    for path, item in schema.get("paths", {}).items():
        key = normal_path(path)
        if key in paths:
            raise AssertionError(f"{path!r} and another path both normalise to {key!r}")
        paths[key] = {
            method: _operation(operation, bodies)
            for method, operation in item.items()
            if method in HTTP_METHODS
        }
    schemas = {
        name: body
        for name, body in schema.get("components", {}).get("schemas", {}).items()
        if not name.startswith("Body_")
    }
    return {"paths": paths, "schemas": schemas}


def _show(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def assert_same_meaning(original: dict[str, Any], ported: dict[str, Any]) -> None:
    """Fail, naming the first path, operation or schema that differs, unless both documents
    mean the same (see the module's docstring for what that covers)."""
    want, got = openapi_meaning(original), openapi_meaning(ported)
    missing = sorted(set(want["paths"]) - set(got["paths"]))
    extra = sorted(set(got["paths"]) - set(want["paths"]))
    if missing or extra:
        raise AssertionError(f"paths differ: missing {missing}, extra {extra}")
    for path, operations in want["paths"].items():
        if set(operations) != set(got["paths"][path]):
            raise AssertionError(
                f"{path}: methods {sorted(operations)} != {sorted(got['paths'][path])}"
            )
        for method, meaning in operations.items():
            ported_meaning = got["paths"][path][method]
            for aspect in meaning:
                if meaning[aspect] != ported_meaning[aspect]:
                    raise AssertionError(
                        f"{method.upper()} {path}: {aspect} differ\n"
                        f"original: {_show(meaning[aspect])}\n"
                        f"ported:   {_show(ported_meaning[aspect])}"
                    )
    if want["schemas"] != got["schemas"]:
        names = sorted(set(want["schemas"]) ^ set(got["schemas"])) or sorted(
            n for n in want["schemas"] if want["schemas"][n] != got["schemas"][n]
        )
        raise AssertionError(f"component schemas differ: {names}")


# Every way the runtime can build a port: from a fresh scan (`dev`) or from the cache (`run`),
# each with every schedule: `eager` (`run --eager`), `warm` (`run`: routes made real on their
# first request or by the warm-up the lifespan starts) and `lazy` (`run --lazy`: nothing
# imported before its first request).
PORT_MODES = ("eager", "warm", "lazy", "cache", "cache-warm", "cache-lazy")


def port_app(root: Path, mode: str, **options: Any) -> Any:
    """The app of the project at `root` in one of `PORT_MODES`: built first for the `cache`
    ones (as conftest.app_in_mode does), then `create_app` of the folder's path, which finds
    the project as a user's `create_app(path)` does: a folder holding `__init__.py` is
    imported as its package, by its own name (app_in_mode's `Project(root)` leaves the
    package out, so its modules get a private name)."""
    from fastapi_route.config import load_config
    from fastapi_route.pipeline.build import build
    from fastapi_route.runtime.app import create_app

    if mode not in PORT_MODES:
        raise ValueError(f"unknown mode {mode!r}: one of {PORT_MODES}")
    cached = mode.startswith("cache")
    if cached:
        build(root, load_config(root))
    schedule = mode.removeprefix("cache").lstrip("-") or "eager"
    return create_app(root, source="cache" if cached else "scan", schedule=schedule,
                      **options)
