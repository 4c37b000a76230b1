"""Work the server must not wait for, done in a forked copy of itself: the first OpenAPI
document of a server process (issue 19, `openapi.OpenAPIRoute`).

In a thread beside the event loop, FastAPI's `get_openapi` still holds the interpreter through
its longest calls: the whole document validated as one pydantic `OpenAPI` model and dumped
again, two calls into pydantic-core of 140 ms at 1000 model files and 1.6 s at 10,000, during
which no request is answered. A forked child has an interpreter of its own: the server stops
only for the fork itself (copying its page tables: 4 ms at 1000 model files, 20 ms at 10,000;
2-8 ms once `hugepages` has put a big server's heap on huge pages),
and the child, a copy of the app as it stands, works at full speed on another core and writes
its answer back down a pipe. What it allocates is gone with it (at 1000 model files, 149 MiB
for the length of the document: the pages it touched, copied, and the document).

The child is a copy of a server that has threads, sockets and signal handlers, so before
anything else it (`_detach`):

- closes every descriptor but the pipe and stdio: a connection the server closes must close,
  and a port the server gives up must be free, not held by the child;
- takes the default handlers of SIGINT and SIGTERM and no signal wakeup descriptor (Ctrl-C
  stops it; a signal it gets is not written into the server's event loop), and dies with the
  server (Linux's PR_SET_PDEATHSIG);
- offers itself first to the kernel's OOM killer (`oom_score_adj`): under memory pressure the
  copy goes, not the server;
- logs nothing and tells no supervisor anything: what it finds (a route that cannot be made)
  the server finds and reports itself;
- runs without the garbage collector (its memory goes when it exits).

The server takes the answer only if the child wrote all of it, length first; the child failed,
was killed, or stopped using the CPU for STALLED seconds (a lock another thread held at the
fork, never released in the copy): None, and the caller does the work itself.

Linux only (`usable`): elsewhere there is no fork (Windows), or no fork safe in a process with
threads (macOS); there, and when a child fails, the caller's own way stands.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import gc
import logging
import os
import select
import signal
import struct
import sys
import threading
import time
import warnings
from collections.abc import Callable

from . import failure

# How long a child may go without using the CPU or writing before it is taken to be stuck.
STALLED = 3.0
# How often the server's reader looks at a child that says nothing.
POLL = 0.5
HEADER = struct.Struct(">Q")  # the answer's length, before it
CHUNK = 1 << 20
# Exit codes: the work raised (the caller's own way raises it again); the child failed
# around it.
RAISED = 3
FAILED = 4

log = logging.getLogger("fastapi_route")


def usable() -> bool:
    """Whether work can be forked here (Linux, with fork)."""
    return sys.platform == "linux" and hasattr(os, "fork")


def start(work: Callable[[], bytes]) -> concurrent.futures.Future[bytes | None]:
    """Fork now and run `work` in the child; what it returned, or None, once it is done.

    Call it where nothing is half-changed: a copy is taken of the whole process as it is, in
    the middle of whatever other threads were doing (the caller holds the locks of what
    `work` reads). The future is resolved by a thread of its own, which reads the answer and
    then waits for the child."""
    prctl = _prctl()  # looked up here: the child imports nothing (see `_die_with_parent`)
    readable, writable = os.pipe()
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns of any fork in a process with threads: the child here touches
            # nothing the other threads held but what `_detach` resets, and exits on its own.
            warnings.filterwarnings("ignore", category=DeprecationWarning,
                                    message=".*fork.*")
            pid = os.fork()
    except BaseException:
        os.close(readable)
        os.close(writable)
        raise
    if pid == 0:  # the child: never returns
        _child(work, readable, writable, prctl)
    os.close(writable)
    done: concurrent.futures.Future[bytes | None] = concurrent.futures.Future()
    try:
        threading.Thread(target=_collect, args=(pid, readable, done), daemon=True,
                         name="fastapi-route forked").start()
    except BaseException:  # no thread to read it: the child goes, as if it had never been
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        os.close(readable)
        _reap(pid)
        raise
    return done


def _child(work: Callable[[], bytes], readable: int, writable: int,
           prctl: Callable[..., int] | None) -> None:
    code = FAILED
    try:
        os.close(readable)
        _detach(keep=writable, prctl=prctl)
        try:
            answer = work()
        except BaseException:  # the caller's own way raises it, with its traceback
            code = RAISED
        else:
            _write_all(writable, HEADER.pack(len(answer)))
            _write_all(writable, answer)
            os.close(writable)  # the answer is complete before this copy's memory is freed
            code = 0
    finally:
        os._exit(code)


def _detach(keep: int, prctl: Callable[..., int] | None) -> None:
    """What the child does first (see the module)."""
    gc.disable()
    logging.disable(logging.CRITICAL)
    os.environ.pop(failure.ENV_SUPERVISOR, None)
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(number, signal.SIG_DFL)
    _die_with_parent(prctl)
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd != keep:
            with contextlib.suppress(OSError):
                os.close(fd)


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, or None where it cannot be had."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None


def _die_with_parent(prctl: Callable[..., int] | None) -> None:
    # No import here: another thread of the server may have been importing at the fork, and
    # a module lock it held is held for ever in the copy.
    parent = os.getppid()
    if prctl is not None:
        pr_set_pdeathsig = 1
        with contextlib.suppress(Exception):
            prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent went before the call took effect
        os._exit(FAILED)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _collect(pid: int, readable: int, done: concurrent.futures.Future[bytes | None]) -> None:
    """In the server's reader thread: the child's answer (or None) into `done`, then the
    child reaped."""
    answer: bytes | None = None
    try:
        answer = _read(pid, readable)
    finally:
        os.close(readable)
        done.set_result(answer)
        status = _reap(pid)
        if answer is None and status is not None:
            if os.WIFSIGNALED(status):  # the OOM killer, or someone's kill
                log.warning("fastapi-route: a forked child was killed (signal %d)",
                            os.WTERMSIG(status))
            elif os.WEXITSTATUS(status) == FAILED:
                log.warning("fastapi-route: a forked child failed (exit %d)", FAILED)


def _read(pid: int, readable: int) -> bytes | None:
    head, chunks = b"", []  # the length, then the answer, kept apart: one copy in the end
    cpu, quiet_since = _cpu_time(pid), time.monotonic()
    while True:
        ready, _, _ = select.select([readable], [], [], POLL)
        if ready:
            chunk = os.read(readable, CHUNK)
            if not chunk:
                break
            quiet_since = time.monotonic()
            if len(head) < HEADER.size:
                need = HEADER.size - len(head)
                head, chunk = head + chunk[:need], chunk[need:]
            if chunk:
                chunks.append(chunk)
            continue
        now_cpu = _cpu_time(pid)
        if now_cpu != cpu:
            cpu, quiet_since = now_cpu, time.monotonic()
        elif time.monotonic() - quiet_since > STALLED:
            log.warning("fastapi-route: a forked child used no CPU for %.0f s: stopped", STALLED)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            return None
    if len(head) < HEADER.size or HEADER.unpack(head)[0] != sum(map(len, chunks)):
        return None  # it failed or was killed before it wrote everything
    return b"".join(chunks)


def _cpu_time(pid: int) -> tuple[str, ...] | None:
    """The child's user and system CPU time, as /proc says it (None: cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (fields[11].decode(), fields[12].decode()) if len(fields) > 12 else None


def _reap(pid: int) -> int | None:
    """The child's exit status; None if someone else reaped it (a SIGCHLD handler that waits
    for any child: then the answer's length alone says whether it was complete)."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None
