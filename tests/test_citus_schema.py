"""The schema against the Citus rules of docs/scaling.md, checked from the catalogue (issue 17).

Every table is declared distributed (by ``district_code``), reference (replicated to every
node) or local (coordinator only). The rules for distributed tables are read from
``pg_catalog`` of the migrated test database; what does not obey them yet is pinned in
:data:`KNOWN_GAPS`, each with the change docs/scaling.md plans. A new table that is not
declared, a new violation, or a gap that was closed without updating this file fails the
test, so the schema can only move towards the plan.
"""

from __future__ import annotations

from sqlalchemy import text

DISTRIBUTED = {
    "service_event",
    "address",
    "address_alias",
    "household_segment",
    "postcode",
    "survey_response",
    "road_link",
    "road_node",
    "area_count",
}
REFERENCE = {
    "area",
    "area_set",
    "area_membership",
    "area_variable",
    "area_segment",
    "classification",
    "segment",
    "service",
    "channel",
    "site",
    "ingest_batch",
    "service_district",
    "area_neighbour",
    "area_neighbour_state",
    "area_vintage_lookup",
}
LOCAL = {
    "alembic_version",
    "api_key",
    "audit_log",
    "job",
    "planning_scenario",
    "feed",
    "feed_file",
    "data_version",
    "data_version_scope",
    "aggregate_refresh_scope",
    "demo_truth",
    "ingest_rejected_row",
    "ingest_superseded",
    "spatial_ref_sys",
}

#: (rule, table, detail) -> the planned change (docs/scaling.md, "What changes").
KNOWN_GAPS: dict[tuple[str, str, str], str] = {
    ("no district_code", "address", ""): "add district_code (from the OA) at ingest",
    ("no district_code", "address_alias", ""): "add district_code (from its address)",
    ("no district_code", "household_segment", ""): "add district_code (from its address)",
    ("no district_code", "survey_response", ""): "add district_code (from the matched OA)",
    ("no district_code", "road_link", ""): "add district_code (network cut per district, edges kept once)",
    ("no district_code", "road_node", ""): "add district_code",
    ("unique key without district_code", "service_event", "pk_service_event"): "PK (district_code, id)",
    ("unique key without district_code", "postcode", "pk_postcode"): "PK (district_code, postcode_norm)",
    ("unique key without district_code", "address", "pk_address"): "PK (district_code, uprn)",
    ("no district_code", "area_count", ""): "add district_code (from the area) at ingest",
    ("unique key without district_code", "area_count", "pk_area_count"): "PK (district_code, id)",
    ("unique key without district_code", "address_alias", "pk_address_alias"): "PK with district_code",
    (
        "unique key without district_code",
        "household_segment",
        "pk_household_segment",
    ): "PK with district_code",
    ("unique key without district_code", "survey_response", "pk_survey_response"): "PK (district_code, id)",
    ("unique key without district_code", "road_link", "pk_road_link"): "PK (district_code, id)",
    ("unique key without district_code", "road_node", "pk_road_node"): "PK (district_code, id)",
    ("foreign key without district_code", "address_alias", "address"): "FK (district_code, uprn)",
    ("foreign key without district_code", "household_segment", "address"): "FK (district_code, uprn)",
    ("materialized view", "service_use_oa_segment", ""): "rollup table upserted per batch",
    ("materialized view", "service_use_oa_segment_month", ""): "rollup table upserted per batch",
    ("materialized view", "household_oa_segment", ""): "rollup table upserted per batch",
    ("trigger on a distributed table", "service_event", "trg_service_event_scope_del"): "bump in ingest",
    ("trigger on a distributed table", "service_event", "trg_service_event_scope_ins"): "bump in ingest",
    ("trigger on a distributed table", "service_event", "trg_service_event_scope_trunc"): "bump in ingest",
    ("trigger on a distributed table", "service_event", "trg_service_event_scope_upd"): "bump in ingest",
    ("trigger on a distributed table", "address", "trg_address_scope"): "bump in ingest",
    ("trigger on a distributed table", "household_segment", "trg_household_segment_scope"): "bump in ingest",
    ("trigger on a distributed table", "road_link", "trg_road_link_scope"): "bump in ingest",
}


def _violations(conn) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    columns = {
        (t, c)
        for t, c in conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            )
        )
    }
    for table in sorted(DISTRIBUTED):
        if (table, "district_code") not in columns:
            found.add(("no district_code", table, ""))
    # unique keys (PK and UNIQUE constraints, unique indexes) of distributed tables
    for table, name, has in conn.execute(
        text(
            """
            SELECT c.relname, i.relname,
                   EXISTS (SELECT 1 FROM unnest(x.indkey) k
                           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k
                           WHERE a.attname = 'district_code')
            FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND x.indisunique AND c.relname = ANY(:t)
            """
        ),
        {"t": sorted(DISTRIBUTED)},
    ):
        if not has:
            found.add(("unique key without district_code", table, name))
    # foreign keys: distributed -> distributed must carry district_code on both sides;
    # nothing may point at a distributed table from a reference or local table; a
    # distributed table may point at reference tables only
    for child, parent, cols in conn.execute(
        text(
            """
            SELECT c.relname, p.relname,
                   array(SELECT a.attname FROM unnest(f.conkey) k
                         JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k)
            FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid JOIN pg_class p ON p.oid = f.confrelid
            WHERE f.contype = 'f' AND f.connamespace = 'public'::regnamespace
            """
        )
    ):
        if parent in DISTRIBUTED and child in DISTRIBUTED and "district_code" not in cols:
            found.add(("foreign key without district_code", child, parent))
        elif parent in DISTRIBUTED and child not in DISTRIBUTED:
            found.add(("foreign key into a distributed table", child, parent))
        elif child in DISTRIBUTED and parent in LOCAL:
            found.add(("foreign key to a local table", child, parent))
    for (view,) in conn.execute(text("SELECT matviewname FROM pg_matviews WHERE schemaname = 'public'")):
        found.add(("materialized view", view, ""))
    for table, trigger in conn.execute(
        text(
            """
            SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE NOT t.tgisinternal AND c.relname = ANY(:t)
            """
        ),
        {"t": sorted(DISTRIBUTED)},
    ):
        found.add(("trigger on a distributed table", table, trigger))
    return found


def test_every_table_is_declared_distributed_reference_or_local(conn) -> None:
    tables = {
        r[0]
        for r in conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
            )
        )
    }
    assert not (DISTRIBUTED & REFERENCE or DISTRIBUTED & LOCAL or REFERENCE & LOCAL)
    undeclared = tables - DISTRIBUTED - REFERENCE - LOCAL
    assert not undeclared, (
        f"declare these tables in tests/test_citus_schema.py and docs/scaling.md: {undeclared}"
    )
    assert not (DISTRIBUTED | REFERENCE | LOCAL) - tables, "a declared table no longer exists"


def test_the_schema_obeys_the_citus_rules_but_for_the_planned_changes(conn) -> None:
    found = _violations(conn)
    new = found - set(KNOWN_GAPS)
    assert not new, f"new violations of the Citus rules (docs/scaling.md): {sorted(new)}"
    closed = set(KNOWN_GAPS) - found
    assert not closed, f"these planned changes are done: remove them from KNOWN_GAPS: {sorted(closed)}"
    # the distribution column is where the rules need it on the biggest table already
    assert ("no district_code", "service_event", "") not in found
