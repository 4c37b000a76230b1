from fastapi import Request


async def POST(request: Request):
    """Update the admin settings."""
    return {"message": "Admin getting schwifty"}
