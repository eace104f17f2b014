"""Wardwise web layer: thin FastAPI routers over the `geo` domain."""
