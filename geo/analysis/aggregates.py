"""Pre-aggregated service use: refresh it after loading events, and know when it is fresh.

Two materialized views (migration ``0003_profiling``, SQL in
``geo/sql/analysis/aggregates_create.sql``) hold primary events per (service,
classification, output area, segment): ``service_use_oa_segment`` for the whole period
(events and distinct households) and ``service_use_oa_segment_month`` per month and
channel (events). A third, ``household_oa_segment`` (migration
``0005_profiling_households``), holds households per (classification, OA, segment).
:func:`geo.analysis.data.service_counts_by_area_segment` and
:func:`~geo.analysis.data.households_by_area_segment` read them instead of the raw tables
whenever they are fresh and can answer the question exactly.

Freshness is a version check, so a stale view is never read: triggers bump
``data_version('aggregates')`` on any write to ``service_event``, ``household_segment``,
``area_segment``, ``classification``, ``address`` or ``area``, and :func:`refresh_aggregates`
records the version it refreshed from as ``data_version('aggregates_refreshed')``. Call
:func:`refresh_aggregates` after an ingest or a demo load (it is safe to call any time).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text


def refresh_aggregates(conn: Connection) -> int:
    """Rebuild the per-OA aggregates from ``service_event``; return the version now served.

    Runs in the caller's transaction. The version is read *before* the refresh, so a write
    committed meanwhile leaves the views marked stale (readers fall back to the events)
    rather than marked fresh while missing it.
    """
    version = conn.execute(text("SELECT version FROM data_version WHERE name = 'aggregates'")).scalar_one()
    conn.execute(text("REFRESH MATERIALIZED VIEW service_use_oa_segment"))
    conn.execute(text("REFRESH MATERIALIZED VIEW service_use_oa_segment_month"))
    conn.execute(text("REFRESH MATERIALIZED VIEW household_oa_segment"))
    conn.execute(
        text("UPDATE data_version SET version = :v, changed_at = now() WHERE name = 'aggregates_refreshed'"),
        {"v": version},
    )
    return int(version)


def aggregates_fresh(conn: Connection) -> bool:
    """Whether the aggregates reflect every write to their sources (False if never refreshed)."""
    fresh = conn.execute(
        text(
            """
            SELECT a.version = r.version
            FROM data_version a JOIN data_version r ON r.name = 'aggregates_refreshed'
            WHERE a.name = 'aggregates'
            """
        )
    ).scalar_one_or_none()
    return bool(fresh)


def month_window(
    date_from: dt.date | None, date_to: dt.date | None
) -> tuple[dt.date | None, dt.date | None] | None:
    """The months a date range covers exactly, or None if it cuts a month.

    ``date_from`` must be a first and ``date_to`` a last day of a month for the monthly
    aggregate to give the same count as the events; returns the first days of the first
    and last months (either None when that end is open).
    """
    if date_from is not None and date_from.day != 1:
        return None
    if date_to is not None and (date_to + dt.timedelta(days=1)).day != 1:
        return None
    return date_from, (date_to.replace(day=1) if date_to is not None else None)
