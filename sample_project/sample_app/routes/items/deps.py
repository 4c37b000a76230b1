"""Dependencies for the items route (a helper module, not a route)."""


def pagination(skip: int = 0, limit: int = 10) -> dict[str, int]:
    return {"skip": skip, "limit": limit}
