"""Testing with the dependency replaced, as a user of this project writes it.

Run from the folder that holds `dependency_testing/` (so the package is importable, as it is
once installed): `python -m pytest dependency_testing/tests`.
"""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dependency_testing.dependencies import common_parameters
from fastapi_route import create_app

PROJECT = Path(__file__).resolve().parent.parent


async def fixed_paging(q: str | None = None) -> dict:
    """Keeps the caller's `q`, pins the paging."""
    return {"q": q, "skip": 5, "limit": 10}


@pytest.fixture
def client():
    # source="scan": the tree as it is now, no `fastapi-route build` needed.
    app = create_app(PROJECT, source="scan")
    app.dependency_overrides[common_parameters] = fixed_paging
    with TestClient(app) as client:
        yield client
    app.dependency_overrides.clear()


@pytest.mark.parametrize(
    ("url", "q"),
    [("/items", None), ("/items?q=foo", "foo"), ("/items?q=foo&skip=100&limit=200", "foo")],
)
def test_items_get_the_override(client, url, q):
    response = client.get(url)
    assert response.status_code == 200
    assert response.json() == {"message": "Hello Items!",
                               "params": {"q": q, "skip": 5, "limit": 10}}


def test_users_get_it_too(client):
    assert client.get("/users?skip=1").json()["params"] == {"q": None, "skip": 5, "limit": 10}
