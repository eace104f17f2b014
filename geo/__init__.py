"""Wardwise domain: ingest, matching, analysis, tiles and planning over PostGIS."""
