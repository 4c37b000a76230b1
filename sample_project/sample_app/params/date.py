"""A segment type of this app (`[day=date]`): a calendar day written YYYY-MM-DD."""

import datetime

pattern = "[0-9]{4}-[0-9]{2}-[0-9]{2}"  # asked first; OpenAPI shows it
description = "A calendar day, YYYY-MM-DD"


def match(value: str) -> bool:
    """Only real days: 2026-02-30 has the pattern's shape but is no date."""
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True
