"""GET /items: the tutorial's route for redirects behind a proxy. Its URL has no trailing
slash (a route file's never has), so it is `/items/` that redirects, to `/items`, under the
root path and, with the proxy's headers trusted, with the client's scheme."""

from fastapi import Request


def GET(request: Request):
    return ["plumbus", "portal gun"]
