"""POST /send-notification/{email}: the tutorial's first version, a task added by the handler
with a keyword argument, which (re)writes log.txt once the response is sent."""

from fastapi import BackgroundTasks, Request


def write_notification(email: str, message: str = "") -> None:
    with open("log.txt", mode="w") as email_file:
        email_file.write(f"notification for {email}: {message}")


async def POST(request: Request, email: str, background_tasks: BackgroundTasks):
    background_tasks.add_task(write_notification, email, message="some notification")
    return {"message": "Notification sent in the background"}
