"""A project that is a Python package: its files are modules of `dependency_testing`, so a test
imports the dependency the routes use by its real name and overrides it."""
