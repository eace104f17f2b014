"""Thin routers: parse, authorise, call one geo function, shape the response."""
