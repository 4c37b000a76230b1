"""Stopping a server whose app cannot start, or cannot serve a route it must (SPEC 10), with
one message that says where.

Under `run`'s default schedule a route is registered with FastAPI after the port is bound; a
handler FastAPI rejects (a parameter typed with a plain class, say) is found then, by a
request or by the warm-up. `run` must still end with a non-zero exit naming the file, as it
would have before binding.

The contract, between whoever serves and the processes that serve: the server holds a
`Supervisor` (a report file) and exports its address ("pid:report file") as
FASTAPI_ROUTE_SUPERVISOR; the process that finds the failure writes it to the file and sends
the server a SIGTERM (uvicorn then shuts every worker down gracefully); a worker also leaves
at once. The server reads the report when uvicorn has stopped. (A signal of our own would not
do: uvicorn's supervisor takes over SIGUSR1, SIGUSR2 and others.) Without the variable (a test
client, another server) the route answers 500 and the error is logged.

A server that cannot start (app.py's lifespan raises before `yield`; a worker cannot build the
app) reports through the same contract, so `run` exits 1 with one message however many
workers failed; without a supervisor the message goes to the server as
`lifespan.startup.failed` (uvicorn logs it and exits 3). The message is `located()`: the file
and line of the last frame inside the project, the exception, and the project's part of the
traceback; never a server's traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import traceback
from pathlib import Path, PurePath
from types import TracebackType

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("fastapi_route")

ENV_SUPERVISOR = "FASTAPI_ROUTE_SUPERVISOR"
WORKER_EXIT = 3  # gunicorn's "worker failed to boot": a supervisor does not respawn it
_RECORD_END = "\x1e\n"  # after each report: a message may span lines (its hint)


class Supervisor:
    """Owned by whoever serves: the file its processes report a failure to, for the length of
    a `with` block (removed on leaving it)."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="fastapi-route-failure-", suffix=".txt")
        os.close(fd)
        self.report = Path(name)
        self.address = f"{os.getpid()}:{name}"  # the value of ENV_SUPERVISOR

    def failure(self) -> str | None:
        """What stopped the server, if a failure did."""
        try:
            text = self.report.read_text(encoding="utf-8")
        except OSError:
            return None
        first = text.split(_RECORD_END, 1)[0].strip()  # several workers may have reported
        return first or None

    def close(self) -> None:
        self.report.unlink(missing_ok=True)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def supervisor_from_env() -> tuple[int, str] | None:
    """The pid of the process serving this one and its report file, if one exported them."""
    pid, _, report = os.environ.get(ENV_SUPERVISOR, "").partition(":")
    return (int(pid), report) if pid.isdigit() and report else None


def stop_serving(error: BaseException) -> None:
    """Report `error` to the supervisor and stop the server; nothing without a supervisor."""
    supervisor = supervisor_from_env()
    if supervisor is None:
        return  # not under `run`: the route answers 500, and the caller logged why
    pid, report = supervisor
    log.critical("fastapi-route: stopping the server: %s", error)
    _write(report, f"the server stopped: {error}")
    if pid == os.getpid():  # `run` with one process: uvicorn stops gracefully
        os.kill(pid, signal.SIGTERM)
        return
    try:
        os.kill(pid, signal.SIGTERM)
    finally:
        os._exit(WORKER_EXIT)


def _write(report: str, message: str) -> None:
    with contextlib.suppress(OSError), open(report, "a", encoding="utf-8") as f:
        f.write(message + _RECORD_END)


def report_failed_start(message: str) -> bool:
    """Tell the supervisor, if there is one, that this process cannot start: True if told.

    A worker also stops the server: uvicorn's older supervisors wait for a signal whatever
    their workers do, the newer ones give up on a worker that failed to start but exit 0."""
    supervisor = supervisor_from_env()
    if supervisor is None:
        return False
    pid, report = supervisor
    _write(report, f"the server did not start: {message}")
    if pid != os.getpid():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    return True


# --- where the project's code failed ------------------------------------------------------------


def located(what: str, error: BaseException, root: Path | None) -> str:
    """`FILE:LINE: what: Exception: message`, FILE:LINE the last frame of the traceback inside
    the project (not a server's, a library's or ours), followed by the project's other frames
    on the way there, innermost first: the part of the traceback that helps."""
    frames = project_frames(error, root) if root is not None else []
    if not frames:
        return f"{what}: {describe(error)}"
    *callers, last = frames
    lines = [f"{last.filename}:{last.lineno}: {what}: {describe(error)}"]
    lines += [f"  called from {f.filename}:{f.lineno} ({f.name}): {f.line or ''}".rstrip()
              for f in reversed(callers)]
    return "\n".join(lines)


def describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"it called sys.exit({error.code!r})"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def project_frames(error: BaseException, root: Path) -> list[traceback.FrameSummary]:
    """The frames of `error`'s traceback in the project's files (paths relative to `root`),
    outermost first; those of the exception it was raised from when it has none (an import
    error of ours wrapping the project's exception)."""
    base = root.resolve()
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [traceback.FrameSummary(rel, f.lineno, f.name, line=f.line)
                  for f in traceback.extract_tb(current.__traceback__)
                  if (rel := _inside(f.filename, base)) is not None]
        if isinstance(current, SyntaxError) and current.filename:
            rel = _inside(current.filename, base)
            if rel is not None:
                frames.append(traceback.FrameSummary(rel, current.lineno, "<module>",
                                                     line=(current.text or "").strip()))
        if frames:
            return frames
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__)
    return []


_OURS = Path(__file__).resolve().parent.parent  # fastapi_route/


def _inside(filename: str, base: Path) -> str | None:
    """`filename` relative to the project (posix), unless it is not in it or is a library's
    (a virtualenv inside the project folder) or ours (a project around our source tree)."""
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>: no file
        return None
    path = PurePath(os.path.abspath(filename))
    try:
        rel = path.relative_to(base)
    except ValueError:
        return None
    if {"site-packages", "dist-packages"} & set(rel.parts) or _OURS in path.parents:
        return None
    return rel.as_posix()


# --- a lifespan that raises ---------------------------------------------------------------------

LIFESPAN_HINT = ("fix what app.py's lifespan needs (a service, a setting), or handle the "
                 "error there")


async def start(app: ASGIApp, scope: Scope, receive: Receive, send: Send,
                root: Path | None) -> None:
    """`app`'s lifespan, for a server. A startup that raises ends as one
    `lifespan.startup.failed` whose message is located() (Starlette's carries the whole
    traceback, which uvicorn prints), told to the supervisor if there is one."""
    held: Message | None = None

    async def sending(message: Message) -> None:
        nonlocal held
        if message["type"] == "lifespan.startup.failed":
            held = message  # replaced by ours once the exception is known
            return
        await send(message)

    try:
        await app(scope, receive, sending)
    except (Exception, SystemExit) as exc:
        if held is None:  # not a failed start (a failed shutdown): as it was
            raise
        text = located("app.py's lifespan failed", exc, root)
        await fail_start(send, f"{text}\n  hint: {LIFESPAN_HINT}")
        return
    except BaseException:
        if held is not None:  # interrupted while starting: the server's own message
            await send(held)
        raise
    if held is not None:  # failed without raising: its own message
        await fail_start(send, str(held.get("message") or "the app failed to start"))


async def fail_start(send: Send, message: str) -> None:
    """Fail the lifespan startup with `message`: to the supervisor if there is one (it prints
    it once), else to the server (which logs it)."""
    reported = report_failed_start(message)
    await send({"type": "lifespan.startup.failed", "message": "" if reported else message})


class Starting:
    """`app` for a server: its lifespan through start(), every other call as it is."""

    def __init__(self, app: ASGIApp, root: Path | None) -> None:
        self.app = app
        self.root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await start(self.app, scope, receive, send, self.root)
        else:
            await self.app(scope, receive, send)
