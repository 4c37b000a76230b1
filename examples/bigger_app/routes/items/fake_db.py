"""The items the routes under `routes/items/` serve (a helper: not a route file)."""

fake_items_db = {"plumbus": {"name": "Plumbus"}, "gun": {"name": "Portal Gun"}}
