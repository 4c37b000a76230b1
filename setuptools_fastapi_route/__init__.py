"""The setuptools plugin of fastapi-route: a `build_py` step that bakes the route cache,
switched on by a `[tool.fastapi-route]` table (the hatchling hook is `hatch_fastapi_route`)."""
