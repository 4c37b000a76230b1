"""FastAPI's refusal of a handler, said in the user's words.

FastAPI checks a handler when the route is registered and raises with its own words about its
own machinery: a parameter typed with a plain class gives "Invalid args for response field!
... check that <class '_fastapi_route_project_<hash>.routes.plain.route.Thing'> is a valid
Pydantic field type", which names neither the parameter nor the file, talks of a response, and
shows the module name the project's files are imported under. Here the refusal becomes one
message: the route, the parameter FastAPI refused as the handler's source writes it
(`t: Thing`), and a hint. Worked out only once FastAPI has refused: nothing here runs for a
route that registers.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable
from typing import Any

from ..errors import FastAPIRouteError
from ..table import RouteEntry

# The module names project files are imported under (`modules.ProjectModules`): a dotted name
# below `_fastapi_route_project_<hash>`, shown as its last part (the class's own name).
_INTERNAL = re.compile(
    r"<class '(?:[\w.]*\.)?(\w+)'>|\b_fastapi_route_project_\w*(?:\.\w+)*\.(\w+)")


class HandlerRefused(FastAPIRouteError):
    """FastAPI refused to register a route's handler: the route cannot be served."""


def refusal(r: RouteEntry, func: Callable[..., Any], endpoint: Callable[..., Any] | None,
            error: Exception) -> HandlerRefused:
    """The message for FastAPI's `error` about the handler `func` of route `r` (`endpoint` is
    what FastAPI was given, whose signature it inspected; None if it was not made)."""
    where = f"{r.file}:{r.line} {r.label} {r.path} cannot be registered with FastAPI"
    refused = None if endpoint is None else _refused_parameter(endpoint, r.path)
    if refused is None:  # the return annotation, an @route option, a layout's Depends...
        return HandlerRefused(
            f"{where}: {type(error).__name__}: {internal_names_out(str(error))}",
            "fix the handler's parameters, their types, its return annotation or its "
            "@route(...) options",
        )
    written = _as_written(func, refused)
    return HandlerRefused(
        f"{where}, which cannot fill its parameter `{written}` from a request",
        f"give `{refused.name}` a type FastAPI reads from a request (str, int, a pydantic "
        f"model, ...), or make it a dependency: `{written} = Depends(a_function_making_it)`",
    )


def internal_names_out(text: str) -> str:
    """`text` with the module names project files are imported under cut to the class name."""
    return _INTERNAL.sub(lambda m: m.group(1) or m.group(2), text)


def _refused_parameter(endpoint: Callable[..., Any], path: str) -> inspect.Parameter | None:
    """The first parameter FastAPI refuses on its own: each one is given to FastAPI's analysis
    alone, in a function that resolves names where the handler does."""
    from fastapi.dependencies.utils import get_dependant

    handler = inspect.unwrap(endpoint)
    for parameter in inspect.signature(endpoint).parameters.values():
        def probe() -> None: ...

        probe.__wrapped__ = handler  # type: ignore[attr-defined]  # its globals, for FastAPI
        probe.__signature__ = inspect.Signature([parameter])  # type: ignore[attr-defined]
        try:
            get_dependant(path=path, call=probe)
        except Exception:
            return parameter
    return None


def _as_written(func: Callable[..., Any], parameter: inspect.Parameter) -> str:
    """`name: annotation` as the handler's source writes it; else the annotation as Python
    shows it, without internal module names."""
    annotation = _source_annotation(func, parameter.name)
    if annotation is None:
        value = parameter.annotation
        if value is inspect.Parameter.empty:
            return parameter.name
        annotation = internal_names_out(
            value if isinstance(value, str) else inspect.formatannotation(value))
    return f"{parameter.name}: {annotation}"


def _source_annotation(func: Callable[..., Any], name: str) -> str | None:
    try:
        source = textwrap.dedent(inspect.getsource(inspect.unwrap(func)))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
                if arg.arg == name and arg.annotation is not None:
                    return ast.get_source_segment(source, arg.annotation)
            return None  # the handler itself: the first function of its source
    return None
