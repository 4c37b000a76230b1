"""Sample API: an example project for fastapi-route, packaged so a wheel carries its routes."""
