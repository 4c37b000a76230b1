"""The work done after the response is sent, and the dependency that asks for some of it."""

from fastapi import BackgroundTasks

LOG_FILE = "log.txt"  # in the server's working folder, as in the tutorial


def write_log(message: str) -> None:
    with open(LOG_FILE, mode="a") as log:
        log.write(message)


def get_query(background_tasks: BackgroundTasks, q: str | None = None) -> str | None:
    """A dependency can take `BackgroundTasks` too: FastAPI gives it the very object the
    handler gets, and runs every task added to it, in order, after the response."""
    if q:
        background_tasks.add_task(write_log, f"found query: {q}\n")
    return q
