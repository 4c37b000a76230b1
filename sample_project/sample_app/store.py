"""A thread-safe in-memory user store."""

from __future__ import annotations

import threading

from sample_app.models import User, UserIn


class UserStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[int, User] = {}
        self._next_id = 1

    def list(self, limit: int | None = None) -> list[User]:
        with self._lock:
            users = sorted(self._users.values(), key=lambda user: user.id)
        return users if limit is None else users[:limit]

    def get(self, user_id: int) -> User | None:
        with self._lock:
            return self._users.get(user_id)

    def create(self, data: UserIn) -> User:
        with self._lock:
            user = User(id=self._next_id, **data.model_dump())
            self._users[user.id] = user
            self._next_id += 1
            return user

    def update(self, user_id: int, data: UserIn) -> User | None:
        with self._lock:
            if user_id not in self._users:
                return None
            user = User(id=user_id, **data.model_dump())
            self._users[user_id] = user
            return user

    def delete(self, user_id: int) -> bool:
        with self._lock:
            return self._users.pop(user_id, None) is not None


store = UserStore()
store.create(UserIn(name="Ada", email="ada@example.com"))
store.create(UserIn(name="Grace", email="grace@example.com"))
