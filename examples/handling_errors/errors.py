"""The app's own exception: raised by `routes/unicorns/[name]/route.py`, answered by the
handler that `app.py` registers for it (one module, so one class, for both)."""


class UnicornException(Exception):
    def __init__(self, name: str) -> None:
        self.name = name
