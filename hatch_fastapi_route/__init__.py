"""Hatchling build hook `fastapi-route`: bakes an app's route cache into its wheel."""
