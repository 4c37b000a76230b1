"""A tiny fastapi-route app packaged with setuptools."""
