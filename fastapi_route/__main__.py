"""`python -m fastapi_route` is the `fastapi-route` command."""

from .cli import main

main()
