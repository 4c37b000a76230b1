"""Settings for the setuptools example, read by fastapi-route."""

app_name = "Setuptools App"
version = "0.1.0"
description = "A fastapi-route app built with setuptools."
build = {"compression_level": 9}
