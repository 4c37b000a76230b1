"""POST /send-notification/{email}: answers at once; the log is written afterwards."""

from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request

from ....tasks import get_query, write_log


async def POST(
    request: Request,
    email: str,
    background_tasks: BackgroundTasks,
    q: Annotated[str, Depends(get_query)],
):
    background_tasks.add_task(write_log, f"message to {email}\n")
    return {"message": "Message sent"}
