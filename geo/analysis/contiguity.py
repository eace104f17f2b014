"""Stored contiguity: queen neighbour pairs per geography, computed once per areas load.

Hot-spot weights and a profile's neighbour list used to run a spatial self-join
(``ST_DWithin`` over every pair of the requested areas, ``ST_Touches`` for one area) on
every request. The pairs of a geography (a standard level, or one custom set; the keys of
``data_version_scope``) only change when its areas do, so they are computed once, in the
transaction that writes the areas (:func:`refresh_neighbours`, called by the ingest of
areas, area bases and classifications and by the demo load), and stored with the
geography's data version in ``area_neighbour_state``. A reader uses the stored pairs only
while that version is still the geography's current one; otherwise (an older database, a
write outside the ingest) it falls back to the self-join, so an answer is never built from
pairs older than the polygons.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from geo.db import load_sql


def _statements(name: str) -> list[str]:
    out = []
    for statement in load_sql(name).text.split(";\n"):
        body = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            out.append(body)
    return out


def refresh_neighbours(conn: Connection) -> list[str]:
    """Recompute the stored pairs of every geography whose data version moved; returns them.

    Runs in the caller's transaction (the one that wrote the areas), so the pairs commit with
    the polygons they come from. Geographies left without areas lose their pairs.
    """
    from sqlalchemy import text

    stale = conn.execute(load_sql("contiguity/stale_geographies")).mappings().all()
    for row in stale:
        params = {
            "geography": row["geography"],
            "level": row["level"],
            "set_code": row["set_code"],
            "version": int(row["version"]),
        }
        for body in _statements("contiguity/refresh"):
            conn.execute(text(body), {k: v for k, v in params.items() if f":{k}" in body})
    for body in _statements("contiguity/forget_gone"):
        conn.execute(text(body))
    return [r["geography"] for r in stale]


def _current_geographies(conn: Connection, codes: Sequence[str]) -> list[str] | None:
    """The geographies of ``codes`` if all their stored pairs are current, else None."""
    rows = conn.execute(load_sql("contiguity/geographies_of"), {"codes": list(codes)}).all()
    if not rows or not all(r.current for r in rows):
        return None
    return [r.geography for r in rows]


def neighbour_pairs(
    conn: Connection, codes: Sequence[str], tolerance_m: float = 0.0
) -> tuple[list[str], list[str], str]:
    """Queen neighbour pairs among ``codes`` (each once, left < right) and where they came from.

    Stored pairs when current and the rule is strict queen (``tolerance_m == 0``); the
    ``ST_DWithin`` self-join otherwise (a tolerance forgives slivers; it is not stored).
    """
    geographies = _current_geographies(conn, codes) if tolerance_m == 0 else None
    if geographies is not None:
        rows = conn.execute(
            load_sql("contiguity/pairs_among"), {"geographies": geographies, "codes": list(codes)}
        ).all()
        source = "stored neighbour pairs (area_neighbour)"
    else:
        rows = conn.execute(
            load_sql("analysis/area_neighbour_pairs"), {"codes": list(codes), "tolerance_m": tolerance_m}
        ).all()
        source = "PostGIS ST_DWithin"
    return [r.left_code for r in rows], [r.right_code for r in rows], source


def touching_areas(conn: Connection, code: str) -> list[dict[str, object]]:
    """An area's neighbours (same level and set, boundary shared, no interior), stored or computed."""
    geographies = _current_geographies(conn, [code])
    if geographies is not None and len(geographies) == 1:
        rows = conn.execute(load_sql("contiguity/touching"), {"code": code, "geography": geographies[0]})
    else:
        rows = conn.execute(load_sql("analysis/touching_areas"), {"code": code})
    return [dict(r) for r in rows.mappings()]
