"""Place search for the map page: a postcode, area, street or address prefix to a location.

The query is normalised the way the gazetteer stores its keys (:mod:`geo.text`), so
``'qw1 2a'`` finds postcode ``QW1 2AB`` and ``'14 coronation st'`` finds the address
whose ``address_norm`` starts with ``14 CORONATION ST``. Only the gazetteer and area
tables are read: nothing about people.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from geo.db import load_sql
from geo.errors import InvalidRequest
from geo.text import normalise_address

#: A postcode prefix: an outward code start (letters then a digit), spaces optional.
_POSTCODE_PREFIX = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9]?[A-Z]{0,2}$")


def search_places(conn: Connection, q: str, *, limit: int = 10) -> list[dict[str, Any]]:
    """Return up to ``limit`` places whose postcode, name, street or address starts with ``q``.

    Each place is ``{kind, label, area_code, zoom, lon, lat, bbox}``: ``kind`` is
    ``postcode``, an area level (``ward``, ``oa``, ...), ``street`` or ``address``;
    ``lon``/``lat`` are WGS84; ``bbox`` (west, south, east, north) is given for areas and
    streets; ``zoom`` is a sensible map zoom to fly to.

    Raises
    ------
    InvalidRequest
        If ``q`` has fewer than two letters or digits, or ``limit`` is not 1..50.
    """
    text_q = (q or "").strip()
    norm = normalise_address(text_q)
    if len(norm.replace(" ", "")) < 2:
        raise InvalidRequest(f"`q` was {q!r} but is expected to have at least two letters or digits")
    if not 1 <= limit <= 50:
        raise InvalidRequest(f"`limit` was {limit} but is expected to be between 1 and 50")
    compact = re.sub(r"[^A-Z0-9]", "", text_q.upper())
    pc = compact if _POSTCODE_PREFIX.match(compact) else None
    rows = conn.execute(
        load_sql("search/places"),
        {"pc": pc, "norm": norm, "name": re.sub(r"[%_\\]", "", text_q), "limit": limit},
    ).mappings()
    return [
        {
            "kind": r["kind"],
            "label": r["label"],
            "area_code": r["area_code"],
            "zoom": int(r["zoom"]),
            "lon": float(r["lon"]),
            "lat": float(r["lat"]),
            "bbox": [float(v) for v in r["bbox"]] if r["bbox"] is not None else None,
        }
        for r in rows
    ]
