"""The app's own exception, raised by the unicorn and the horse routes; only
`routes/unicorns/_layout.py` has a handler for it."""


class UnicornException(Exception):
    def __init__(self, name: str) -> None:
        self.name = name
