"""The dependency both routes use; a test replaces it with `app.dependency_overrides`."""


async def common_parameters(q: str | None = None, skip: int = 0, limit: int = 100) -> dict:
    return {"q": q, "skip": skip, "limit": limit}
