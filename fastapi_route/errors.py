"""What can go wrong for a user, as values: problems found in a route tree and user errors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the project, located in a file (line 0: the file or folder itself)."""

    file: str  # posix path relative to the project root
    line: int
    code: str
    message: str
    hint: str
    warning: bool = False

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def render(self) -> str:
        """`CODE path/to/file.py:LINE message` and a hint line under it."""
        label = f"{self.code} (warning)" if self.warning else self.code
        return f"{label} {self.location} {self.message}\n  hint: {self.hint}"


def printable(text: str) -> str:
    """Text safe to print: bytes that are not UTF-8 (which the OS hands over as lone
    surrogates) as \\xNN, control characters as escapes, so a file name can never crash or
    garble the terminal that shows a problem."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if not p.warning]


def render_problems(problems: Iterable[Problem]) -> str:
    return "\n".join(p.render() for p in sorted(problems))


class FastAPIRouteError(Exception):
    """A mistake the user can fix: reported as a message and a hint, exit code 1."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(FastAPIRouteError):
    """config.py (or a hook option) is wrong."""


class ProjectNotFound(FastAPIRouteError):
    """No project where one was expected."""


class BuildFailed(FastAPIRouteError):
    """Validation found errors; every problem is kept for the caller to print."""

    def __init__(self, problems: list[Problem]) -> None:
        errors = errors_only(problems)
        noun = "problem" if len(errors) == 1 else "problems"
        super().__init__(
            f"Build failed: {len(errors)} {noun} in the route tree\n" + render_problems(problems),
        )
        self.problems = problems


class CacheError(FastAPIRouteError):
    """The cache is missing, corrupt, forged or from another version."""


class NoBuildError(CacheError):
    """There is no cache at all (an installed app's wheel always carries one)."""

    def __init__(self, detail: str = "") -> None:
        message = "No valid build found. Run 'fastapi-route build' first."
        super().__init__(message + (f" ({detail})" if detail else ""), "fastapi-route build")
