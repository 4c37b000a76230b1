"""Settings for the sample API, read by fastapi-route."""

app_name = "Sample API"
version = "1.0.0"
description = "A small user API showing every fastapi-route convention."
server = {"host": "127.0.0.1", "port": 8000}
cors_enabled = False
build = {"compression_level": 6}
commands = {"hello": "echo serving on port {server.port}"}
