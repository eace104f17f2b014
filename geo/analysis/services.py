"""Service catalogue and the service propensity table from the database.

The arithmetic lives in :mod:`geo.analysis.propensity` (pure); this module only fetches
the counts through :mod:`geo.analysis.data`, so every analysis counts the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.data import (
    Unit,
    area_counts_meta,
    check_classification,
    check_service,
    households_by_area_segment,
    resolve_tier,
    service_counts_by_area_segment,
    service_districts,
)
from geo.analysis.propensity import propensity_table
from geo.areas import Geography, resolve_geography
from geo.disclosure import DisclosurePolicy
from geo.errors import InvalidRequest, UnknownArea


@dataclass(frozen=True)
class ServiceFilter:
    """Which service use to count: unit, dates, channel, and where (an area, or a custom set)."""

    unit: Unit | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    channel: str | None = None
    within: str | None = None
    area_set: str | None = None
    #: a tier of the classification (OAC: supergroup, group, subgroup); None = as named
    tier: str | None = None


def default_classification(conn: Connection) -> str:
    """The classification used when none is asked for: the first household-level one (finest tier)."""
    code = conn.execute(
        text(
            "SELECT code FROM classification ORDER BY (unit = 'household') DESC, "
            "(family IS NOT NULL AND family <> code), code LIMIT 1"
        )
    ).scalar_one_or_none()
    if code is None:
        raise InvalidRequest("no classification is loaded: load one before asking for segment analyses")
    return str(code)


def list_services(conn: Connection) -> list[dict[str, Any]]:
    """Every service with its unit, channels, esd ids, event and area-count totals and districts."""
    from geo.catalogue import list_catalogue

    return list_catalogue(conn)


def natural_unit(conn: Connection, service: str) -> Unit:
    """The unit a service is counted in by default: distinct households for memberships."""
    unit = conn.execute(text("SELECT unit FROM service WHERE code = :s"), {"s": service}).scalar_one()
    return "households" if unit in ("membership", "households") else "events"


def check_area(conn: Connection, code: str) -> dict[str, Any]:
    """Return the area's row (code, name, level, set_code, parent_code, district_code, households)."""
    row = (
        conn.execute(
            text(
                "SELECT code, name, level, set_code, parent_code, district_code, households "
                "FROM area WHERE code = :c"
            ),
            {"c": code},
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise UnknownArea(f"`area` was {code!r} but no area has that code")
    return dict(row)


def segment_counts(
    conn: Connection,
    service: str,
    classification: str,
    filters: ServiceFilter,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Target and base per segment for ``service``, summed over the filtered areas.

    Returns the frame (``segment``, ``target``, ``base``; only classified households and
    events) and a dict of what was left out (``unclassified_target``, ``unclassified_base``)
    and which unit was counted.
    """
    check_service(conn, service)
    check_classification(conn, classification)
    if filters.within is not None:
        check_area(conn, filters.within)
    geography: Geography = (
        resolve_geography(conn, filters.area_set) if filters.area_set else Geography("district")
    )
    if filters.area_set and geography.level != "custom":
        raise InvalidRequest(f"`area_set` was {filters.area_set!r} but is expected to be a custom area set")
    unit = filters.unit or natural_unit(conn, service)
    # Only the districts the service has data for (unless `within` says where): a second
    # district loaded without this service's data must not change its answers.
    districts = service_districts(conn, service, filters.within)
    base = households_by_area_segment(
        conn, geography, classification, within=filters.within, districts=districts
    )
    target = service_counts_by_area_segment(
        conn,
        service,
        geography,
        classification,
        unit=unit,
        date_from=filters.date_from,
        date_to=filters.date_to,
        channel=filters.channel,
        within=filters.within,
    )
    base_by = base.groupby("segment_code", dropna=False)["households"].sum()
    target_by = target.groupby("segment_code", dropna=False)["target"].sum()
    segments = segment_codes(conn, classification)
    frame = pd.DataFrame({"segment": segments})
    frame["target"] = frame["segment"].map(target_by).fillna(0).astype("int64")
    frame["base"] = frame["segment"].map(base_by).fillna(0).astype("int64")
    left_out = {
        "unit": unit,
        "districts": districts,
        "counts": area_counts_meta(conn, service, filters.date_from, filters.date_to),
        "unclassified_target": int(target.loc[target["segment_code"].isna(), "target"].sum()),
        "unclassified_base": int(base.loc[base["segment_code"].isna(), "households"].sum()),
    }
    return frame, left_out


def segment_codes(conn: Connection, classification: str) -> list[str]:
    """The classification's segment codes in display order."""
    return list(
        conn.execute(
            text("SELECT code FROM segment WHERE classification_code = :c ORDER BY sort_order, code"),
            {"c": classification},
        ).scalars()
    )


def service_propensity(
    conn: Connection,
    service: str,
    classification: str | None,
    filters: ServiceFilter | None = None,
    *,
    confidence: float = 0.95,
    policy: DisclosurePolicy | None = None,
) -> dict[str, Any]:
    """The propensity table of ``service`` against ``classification`` (see ``propensity_table``).

    Returns a dict with ``service``, ``classification``, ``unit`` (what was counted),
    ``unclassified_target`` and ``unclassified_base`` (left out of the table) and ``rows``
    (the table), with the caller's disclosure ``policy`` applied: small targets and bases
    are suppressed, and one more segment wherever a single suppressed one could be
    recovered from the total.
    """
    filters = filters or ServiceFilter()
    classification = resolve_tier(conn, classification or default_classification(conn), filters.tier)
    assert classification is not None
    counts, meta = segment_counts(conn, service, classification, filters)
    table = propensity_table(counts, confidence=confidence)
    if policy is not None:
        table = disclose_propensity(table, policy)
        meta["unclassified_target"] = policy.value(meta["unclassified_target"])
        meta["unclassified_base"] = policy.value(meta["unclassified_base"])
    return {"service": service, "classification": classification, **meta, "rows": table}


def disclose_propensity(table: pd.DataFrame, policy: DisclosurePolicy) -> pd.DataFrame:
    """A propensity table as a public caller may see it (see ``matrix.disclose_cells``)."""
    from geo.analysis.matrix import disclose_cells

    derived = ["penetration_pct", "index", "ci_low", "ci_high"]
    # A one-column table whose column total is the Total row.
    cells = table.assign(_column="all")
    out = disclose_cells(
        cells,
        policy,
        {"target": ["target_pct", *derived], "base": ["base_pct", *derived]},
        row="segment",
        column="_column",
    )
    return out.drop(columns="_column")
