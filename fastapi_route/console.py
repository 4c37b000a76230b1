"""Terminal output: colour only on a terminal and never with NO_COLOR (https://no-color.org);
build steps as they end, and a progress bar only where a person watches."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import click

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

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


class StepPrinter:
    """Prints `[n/total] step  detail` as each build step ends."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def __call__(self, step: str, detail: str) -> None:
        self.done += 1
        echo(f"  [{self.done}/{self.total}] {step:<22}{detail}")


class ScanProgress:
    """A progress bar for a scan of many route files, only on a terminal: piped output (tests,
    CI logs) never gets one."""

    MIN_FILES = 200  # fewer are read in well under a second: no bar
    REDRAW_SECONDS = 0.1  # redrawing for every file would cost more than reading it

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar: ProgressBar[int] | None = None
        self.shown = 0
        self.drawn_at = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total <= self.MIN_FILES or not self.stream.isatty():
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="Scanning", show_pos=True,
                                         file=self.stream)
        now = time.monotonic()
        if done == total or now - self.drawn_at >= self.REDRAW_SECONDS:
            self.bar.update(done - self.shown)
            self.shown, self.drawn_at = done, now
        if done == total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()
            self.bar = None
