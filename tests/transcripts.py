"""Requests covering the sample project's whole HTTP behaviour, for tests that compare what
two ways of serving it answer."""

from __future__ import annotations

Request = tuple[str, str, object, dict[str, str]]  # method, path, JSON body, headers

SAMPLE_REQUESTS: list[Request] = [
    ("GET", "/", None, {}), ("HEAD", "/", None, {}), ("GET", "/health", None, {}),
    ("GET", "/users?limit=1", None, {}), ("POST", "/users", {"name": "N", "email": "n@x"}, {}),
    ("GET", "/users/me", None, {}), ("GET", "/users/2", None, {}),
    ("GET", "/users/abc", None, {}), ("PUT", "/users/2", {"name": "G", "email": "g@x"}, {}),
    ("DELETE", "/users/1", None, {}), ("GET", "/users/1", None, {}),
    ("GET", "/users/2/posts?page=2", None, {}), ("GET", "/files/a/b/c.txt", None, {}),
    ("POST", "/login", {"username": "u", "password": "secret"}, {}),
    ("POST", "/login", {"username": "u", "password": "bad"}, {}), ("POST", "/logout", None, {}),
    ("GET", "/items?q=x&skip=5", None, {}), ("GET", "/teapot", None, {}),
    ("PUT", "/users", None, {}), ("PATCH", "/users/2", None, {}), ("GET", "/nope", None, {}),
    ("GET", "/admin/stats", None, {}), ("GET", "/admin/stats", None, {"X-Admin-Token": "no"}),
    ("GET", "/robots.txt", None, {}), ("GET", "/css/app.css", None, {}),
    ("GET", "/../sample_app/config.py", None, {}), ("GET", "/docs", None, {}),
    ("GET", "/openapi.json", None, {}), ("GET", "/users/", None, {}),
    ("GET", "/posts/2026-12-04", None, {}), ("GET", "/posts/2026-02-30", None, {}),
]
