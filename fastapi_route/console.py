"""Terminal output: colour only on a terminal and never with NO_COLOR (https://no-color.org)."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

import click

RULE = "=" * 60


def colour_enabled(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def echo(text: str = "", *, err: bool = False, **style: Any) -> None:
    stream = sys.stderr if err else sys.stdout
    if style and colour_enabled(stream):
        text = click.style(text, **style)
    click.echo(text, err=err, color=colour_enabled(stream))


def size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.2f} KB" if n < 1024**2 else f"{n / 1024**2:.2f} MB"


def block(title: str, rows: list[tuple[str, object]]) -> None:
    """The seed page's boxed block: a rule, a title, aligned `Label: value` rows, a rule."""
    width = max(len(label) for label, _ in rows) + 2
    echo(RULE)
    echo(title, bold=True)
    echo(RULE)
    for label, value in rows:
        echo(f"{label + ':':<{width}}{value}")
    echo(RULE)
