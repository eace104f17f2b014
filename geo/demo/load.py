"""Load a generated demo borough into the migrated database, fast and idempotently.

Bulk tables go in with psycopg 3 ``COPY ... FROM STDIN (FORMAT csv)``, geometries as hex
EWKB, on the caller's connection and inside the caller's transaction (nothing here
commits). The web-mercator copies (``area.geom_3857``, ``road_link.geom_3857``, NOT NULL) are
derived in SQL with ``ST_Transform`` while moving the rows from a COPY-filled staging
table, so PostGIS's PROJ does the projection.

What the demo owns, and so deletes before loading:

* area set ``demo`` with its areas and memberships, postcodes of district ``ZD000001``;
* addresses, aliases, household segments, sites in the demo UPRN block, and road nodes
  and links in the demo id block (see ``UPRN_BASE``/``ROAD_ID_BASE``);
* service events of district ``ZD000001`` that came from no ingest batch;
* classification ``wardwise12`` with its segments, and ``demo_truth['demo']``.

Channels and services are upserted rather than deleted: they are shared reference data
that ingested events of other districts may point at (``service_event.service_code`` is a
foreign key), so deleting them could fail or cascade into data the demo does not own.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from geo.analysis.contiguity import refresh_neighbours
from geo.analysis.h3cells import store_address_cells
from geo.demo.generate import (
    CLASSIFICATION_CODE,
    DEFAULT_HOUSEHOLDS,
    DEFAULT_SEED,
    DISTRICT_CODE,
    ID_BLOCK,
    ROAD_ID_BASE,
    SET_CODE,
    UPRN_BASE,
    Borough,
    generate_borough,
)

__all__ = ["DEMO_TRUTH_KEY", "demo_truth", "load_borough", "load_demo"]

DEMO_TRUTH_KEY = "demo"
_COPY_CHUNK_ROWS = 100_000
_BULK_ROWS = 50_000  # loads at least this big drop and rebuild secondary indexes
_SRID = 27700

_DELETES = (
    ("demo_truth", "DELETE FROM demo_truth WHERE key = :key"),
    ("service_event", "DELETE FROM service_event WHERE district_code = :district AND batch_id IS NULL"),
    ("site", "DELETE FROM site WHERE uprn BETWEEN :uprn_lo AND :uprn_hi"),
    ("road_link", "DELETE FROM road_link WHERE id BETWEEN :road_lo AND :road_hi"),
    ("road_node", "DELETE FROM road_node WHERE id BETWEEN :road_lo AND :road_hi"),
    (
        "household_segment",
        "DELETE FROM household_segment WHERE classification_code = :cls "
        "OR uprn BETWEEN :uprn_lo AND :uprn_hi",
    ),
    ("address_alias", "DELETE FROM address_alias WHERE uprn BETWEEN :uprn_lo AND :uprn_hi"),
    ("address", "DELETE FROM address WHERE uprn BETWEEN :uprn_lo AND :uprn_hi"),
    ("postcode", "DELETE FROM postcode WHERE district_code = :district"),
    (
        "area_membership",
        "DELETE FROM area_membership WHERE set_code = :set_code "
        "OR oa_code IN (SELECT code FROM area WHERE set_code = :set_code)",
    ),
    ("area", "DELETE FROM area WHERE set_code = :set_code"),
    ("area_set", "DELETE FROM area_set WHERE code = :set_code"),
    ("segment", "DELETE FROM segment WHERE classification_code = :cls"),
    ("classification", "DELETE FROM classification WHERE code = :cls"),
)

# table -> (Borough field, columns copied); geometry columns are named geom.
# tables whose web-mercator copy PostGIS derives while loading
_WEB_MERCATOR = {
    "area": "ST_Multi(ST_Transform(geom, 3857))",
    "road_link": "ST_Transform(geom, 3857)",
}
_COPIED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "area",
        "areas",
        (
            "code",
            "name",
            "level",
            "set_code",
            "parent_code",
            "district_code",
            "households",
            "population",
            "area_km2",
            "geom",
        ),
    ),
    ("area_membership", "area_membership", ("oa_code", "area_code", "level", "set_code")),
    ("postcode", "postcodes", ("postcode_norm", "postcode", "oa_code", "district_code", "geom")),
    (
        "address",
        "addresses",
        (
            "uprn",
            "address_text",
            "address_norm",
            "saon",
            "paon",
            "street",
            "street_norm",
            "locality",
            "town",
            "postcode",
            "postcode_norm",
            "is_residential",
            "oa_code",
            "geom",
        ),
    ),
    ("address_alias", "address_aliases", ("uprn", "alias_text", "alias_norm")),
)
_COPIED_AFTER_SEGMENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("household_segment", "household_segments", ("uprn", "classification_code", "segment_code", "batch_id")),
    (
        "service_event",
        "service_events",
        (
            "service_code",
            "event_date",
            "channel",
            "source_system",
            "source_ref_hash",
            "match_level",
            "uprn",
            "household_key",
            "oa_code",
            "lsoa_code",
            "ward_code",
            "district_code",
            "is_primary",
            "duplicate_of",
            "batch_id",
            "geom",
        ),
    ),
    ("road_node", "road_nodes", ("id", "geom")),
    (
        "road_link",
        "road_links",
        ("id", "name", "road_class", "source", "target", "length_m", "speed_kph", "cost_s", "geom"),
    ),
    (
        "site",
        "sites",
        ("name", "kind", "is_existing", "capacity", "address_text", "uprn", "oa_code", "road_node", "geom"),
    ),
)


def _copy_frame(conn: Connection, table: str, frame: pd.DataFrame, columns: tuple[str, ...]) -> int:
    """COPY the frame's columns into the table as CSV; geometries go as hex EWKB."""
    data = pd.DataFrame({c: frame[c].to_numpy() for c in columns if c != "geom"})
    for c in data.columns:
        if pd.api.types.is_datetime64_any_dtype(data[c].dtype):  # numpy formats dates faster than to_csv
            data[c] = np.datetime_as_string(data[c].to_numpy().astype("datetime64[D]"), unit="D")
    if "geom" in columns:
        geoms = shapely.set_srid(np.asarray(frame["geom"].to_numpy(), dtype=object), _SRID)
        data["geom"] = shapely.to_wkb(geoms, hex=True, include_srid=True)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)"
    with cursor.copy(sql) as copy:
        for start in range(0, len(data), _COPY_CHUNK_ROWS):
            buffer = io.StringIO()
            data.iloc[start : start + _COPY_CHUNK_ROWS].to_csv(
                buffer, header=False, index=False, na_rep="", date_format="%Y-%m-%d"
            )
            copy.write(buffer.getvalue())
    return len(data)


@contextlib.contextmanager
def _indexes_dropped(conn: Connection, table: str, rows: int) -> Iterator[None]:
    """Drop the table's secondary indexes and foreign keys for a bulk load, then restore them.

    Building a GiST or b-tree index once over sorted input is several times faster than
    maintaining it row by row during COPY (PostGIS 3 builds GiST by sorting). Indexes
    that back constraints (primary keys, unique) stay. Small loads keep everything.
    Index names and definitions come from the catalogue, never from input.
    """
    existing = conn.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = CAST(:table AS regclass)"), {"table": table}
    ).scalar()
    # Rebuilding pays only when the load is a large share of the table (not beside a big city).
    if rows < _BULK_ROWS or rows < 0.5 * float(existing or 0):
        yield
        return
    # Foreign keys: one set-based validation when re-added instead of a trigger per row.
    foreign = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = CAST(:table AS regclass)"
        ),
        {"table": table},
    ).all()
    for name, _ in foreign:
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    found = conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = :table AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname AND c.conrelid = CAST(:table AS regclass))"
        ),
        {"table": table},
    ).all()
    for name, _ in found:
        conn.execute(text(f'DROP INDEX "{name}"'))
    yield
    for _, definition in found:
        conn.execute(text(definition))
    for name, definition in foreign:
        conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))


def _copy_with_3857(
    conn: Connection, table: str, frame: pd.DataFrame, columns: tuple[str, ...], web_expr: str
) -> int:
    """COPY into a staging copy of the table, then insert with geom_3857 = web_expr.

    ``geom_3857`` is NOT NULL, so rows cannot arrive without it; staging lets PostGIS
    derive it in the same pass instead of updating every row afterwards.
    """
    stage = f"_demo_stage_{table}"
    conn.execute(text(f"CREATE TEMP TABLE {stage} (LIKE {table})"))
    conn.execute(text(f"ALTER TABLE {stage} ALTER COLUMN geom_3857 DROP NOT NULL"))
    n = _copy_frame(conn, stage, frame, columns)
    cols = ", ".join(columns)
    conn.execute(text(f"INSERT INTO {table} ({cols}, geom_3857) SELECT {cols}, {web_expr} FROM {stage}"))
    conn.execute(text(f"DROP TABLE {stage}"))
    return n


def _insert_reference_rows(conn: Connection, borough: Borough) -> dict[str, int]:
    """Insert the small tables: area set, classification, segments; upsert channels, services."""
    conn.execute(
        text(
            "INSERT INTO area_set (code, name, kind, description) VALUES (:code, :name, :kind, :description)"
        ),
        borough.area_sets[["code", "name", "kind", "description"]].to_dict("records"),
    )
    conn.execute(
        text(
            "INSERT INTO classification (code, name, unit, area_level, description, source) "
            "VALUES (:code, :name, :unit, :area_level, :description, :source)"
        ),
        borough.classifications.to_dict("records"),
    )
    conn.execute(
        text(
            "INSERT INTO segment (classification_code, code, name, parent_code, description, "
            "typical_households, preferred_channels, preferred_media, key_issues, colour, sort_order) "
            "VALUES (:classification_code, :code, :name, :parent_code, :description, :typical_households, "
            ":preferred_channels, :preferred_media, :key_issues, :colour, :sort_order)"
        ),
        borough.segments.to_dict("records"),
    )
    conn.execute(
        text(
            "INSERT INTO channel (code, name, kind, unit_cost_gbp, is_digital) "
            "VALUES (:code, :name, :kind, :unit_cost_gbp, :is_digital) ON CONFLICT (code) DO UPDATE SET "
            "name = EXCLUDED.name, kind = EXCLUDED.kind, unit_cost_gbp = EXCLUDED.unit_cost_gbp, "
            "is_digital = EXCLUDED.is_digital"
        ),
        [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
            for r in borough.channels.to_dict("records")
        ],
    )
    services = [
        {**r, "unit_costs": None if r["unit_costs"] is None else json.dumps(r["unit_costs"])}
        for r in borough.services.to_dict("records")
    ]
    conn.execute(
        text(
            "INSERT INTO service (code, name, category, description, owner, unit, channels, unit_costs) "
            "VALUES (:code, :name, :category, :description, :owner, :unit, :channels, "
            "CAST(:unit_costs AS jsonb)) "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category, "
            "description = EXCLUDED.description, owner = EXCLUDED.owner, unit = EXCLUDED.unit, "
            "channels = EXCLUDED.channels, unit_costs = EXCLUDED.unit_costs"
        ),
        services,
    )
    return {
        "area_set": len(borough.area_sets),
        "classification": len(borough.classifications),
        "segment": len(borough.segments),
        "channel": len(borough.channels),
        "service": len(services),
    }


def load_borough(
    conn: Connection, borough: Borough, progress: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Replace the demo's rows in the database with this borough; return rows loaded per table.

    Runs in the caller's transaction (commit is the caller's). Loading the same borough
    twice leaves the same rows, and rows of other area sets are untouched.
    """
    say = progress or (lambda _message: None)
    t0 = time.perf_counter()
    params = {
        "key": DEMO_TRUTH_KEY,
        "district": DISTRICT_CODE,
        "set_code": SET_CODE,
        "cls": CLASSIFICATION_CODE,
        "uprn_lo": UPRN_BASE,
        "uprn_hi": UPRN_BASE + ID_BLOCK - 1,
        "road_lo": ROAD_ID_BASE,
        "road_hi": ROAD_ID_BASE + ID_BLOCK - 1,
    }
    # Index rebuilds sort in memory rather than spilling to disk (local to this transaction).
    conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    for table, sql in _DELETES:
        deleted = conn.execute(text(sql), params).rowcount
        if deleted:
            say(f"deleted {deleted} demo rows from {table}")
    counts = _insert_reference_rows(conn, borough)
    for table, field, columns in (*_COPIED, *_COPIED_AFTER_SEGMENTS):
        frame = getattr(borough, field)
        with _indexes_dropped(conn, table, len(frame)):
            if table in _WEB_MERCATOR:
                counts[table] = _copy_with_3857(conn, table, frame, columns, _WEB_MERCATOR[table])
            else:
                counts[table] = _copy_frame(conn, table, frame, columns)
        say(f"copied {counts[table]} rows into {table} ({time.perf_counter() - t0:.1f} s)")
    conn.execute(
        text("INSERT INTO demo_truth (key, truth) VALUES (:key, CAST(:truth AS jsonb))"),
        {"key": DEMO_TRUTH_KEY, "truth": json.dumps(borough.truth)},
    )
    counts["demo_truth"] = 1
    conn.execute(
        text(
            "INSERT INTO data_version (name, version, changed_at) VALUES ('tiles', 1, now()) "
            "ON CONFLICT (name) DO UPDATE SET version = data_version.version + 1, changed_at = now()"
        )
    )
    tables = sorted({t for t, _, _ in (*_COPIED, *_COPIED_AFTER_SEGMENTS)} | {"segment", "demo_truth"})
    conn.execute(text(f"ANALYZE {', '.join(tables)}"))
    refresh_neighbours(conn)  # the demo's areas' queen pairs, stored with their version
    store_address_cells(conn)  # each address's H3 cell
    say(f"stored neighbour pairs and H3 cells ({time.perf_counter() - t0:.1f} s)")
    say(f"loaded the demo borough in {time.perf_counter() - t0:.1f} s")
    return counts


def load_demo(
    conn: Connection,
    households: int = DEFAULT_HOUSEHOLDS,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Generate the demo borough and load it (see :func:`load_borough`)."""
    say = progress or (lambda _message: None)
    t0 = time.perf_counter()
    borough = generate_borough(households=households, seed=seed)
    say(f"generated {households} households in {time.perf_counter() - t0:.1f} s")
    return load_borough(conn, borough, progress=progress)


def demo_truth(conn: Connection) -> dict[str, Any]:
    """Return the planted truth saved by the last demo load."""
    row = conn.execute(text("SELECT truth FROM demo_truth WHERE key = :key"), {"key": DEMO_TRUTH_KEY}).first()
    if row is None:
        raise LookupError("no demo truth in the database; load the demo first (`wardwise demo load`)")
    return dict(row[0])
