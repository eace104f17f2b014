"""The segments catalogue: who each segment is, where it lives, what it uses, how to reach it.

A pen portrait (from the classification), where it lives (the areas where it is most
over-represented), what it uses (its propensity index for every service), how to reach
it (the communications framework: preferred channels and media, next to the channels it
actually uses) and its key issues (the service delivery framework).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.channels import channel_events, mix_table
from geo.analysis.data import check_classification, households_by_area_segment
from geo.analysis.matrix import area_names, area_segment_matrix, disclose_columns
from geo.analysis.propensity import TOTAL, propensity_table, round_ratio_half_away, table_records
from geo.analysis.services import ServiceFilter, segment_codes, segment_counts
from geo.areas import Geography, resolve_geography
from geo.disclosure import DisclosurePolicy


def list_classifications(conn: Connection) -> list[dict[str, Any]]:
    """Every classification with its unit, source and number of segments."""
    rows = conn.execute(
        text(
            """
            SELECT c.code, c.name, c.unit, c.area_level, c.description, c.source,
                   (SELECT count(*) FROM segment s WHERE s.classification_code = c.code) AS segments
            FROM classification c ORDER BY c.code
            """
        )
    ).mappings()
    return [dict(r) for r in rows]


def segment_rows(conn: Connection, classification: str) -> list[dict[str, Any]]:
    """The classification's segments with their pen portraits, in display order."""
    check_classification(conn, classification)
    rows = conn.execute(
        text(
            """
            SELECT code, name, parent_code, description, typical_households, preferred_channels,
                   preferred_media, key_issues, colour
            FROM segment WHERE classification_code = :c ORDER BY sort_order, code
            """
        ),
        {"c": classification},
    ).mappings()
    return [
        {
            **dict(r),
            "preferred_channels": list(r["preferred_channels"] or []),
            "preferred_media": list(r["preferred_media"] or []),
            "key_issues": list(r["key_issues"] or []),
        }
        for r in rows
    ]


def service_indices(conn: Connection, classification: str, within: str | None = None) -> pd.DataFrame:
    """Propensity rows of every service for every segment (``service`` column added), no totals."""
    services = list(conn.execute(text("SELECT code FROM service ORDER BY code")).scalars())
    tables = []
    for service in services:
        counts, meta = segment_counts(conn, service, classification, ServiceFilter(within=within))
        table = propensity_table(counts, total=False)
        tables.append(table.assign(service=service, unit=meta["unit"]))
    if not tables:
        return pd.DataFrame(columns=["service", "segment"])
    return pd.concat(tables, ignore_index=True)


def top_areas(
    households: pd.DataFrame, segments: list[str], top: int, min_households: int
) -> dict[str, pd.DataFrame]:
    """For each segment, the ``top`` areas where it is most over-represented.

    Areas need at least ``min_households`` of the segment, so a tiny area with three such
    households cannot top the list on an index of 900.
    """
    cells = area_segment_matrix(households, None, segments=segments)
    cells = cells[(cells["area_code"] != TOTAL) & (cells["segment"] != TOTAL)]
    cells = cells[cells["households"] >= min_households]
    ranked = cells.sort_values(
        ["segment", "households_index", "households"], ascending=[True, False, False]
    ).groupby("segment")
    return {str(seg): group.head(top) for seg, group in ranked}


def segment_catalogue(
    conn: Connection,
    classification: str,
    *,
    level: str = "ward",
    top: int = 5,
    min_households: int = 20,
    within: str | None = None,
    policy: DisclosurePolicy | None = None,
) -> list[dict[str, Any]]:
    """The catalogue entry of every segment (see the module docstring).

    Each entry: the segment's fields, ``households`` and ``households_pct`` of the whole,
    ``top_areas`` (code, name, households, share of the area, households index),
    ``services`` (the propensity row per service: index, interval, significance,
    penetration) and ``channel_use`` (share of its service contacts per channel). For a
    public caller (``policy``), small counts are suppressed in every list.
    """
    geography: Geography = resolve_geography(conn, level)
    segments = segment_rows(conn, classification)
    codes = segment_codes(conn, classification)
    households = households_by_area_segment(conn, geography, classification, within=within)
    per_segment = households.dropna(subset=["segment_code"]).groupby("segment_code")["households"].sum()
    total = int(per_segment.sum())
    tops = top_areas(households, codes, top, min_households)
    names = {a["code"]: a["name"] for a in area_names(conn, households["area_code"].unique().tolist())}
    indices = service_indices(conn, classification, within)
    events = channel_events(conn, classification, Geography("district"), within=within)
    mix = mix_table(events.dropna(subset=["segment_code"]), "segment_code")
    if policy is not None:
        indices = disclose_columns(
            indices, policy, {"target": ["penetration_pct", "index", "ci_low", "ci_high"]}
        )
        mix = policy.long(mix, "group", "channel", "events", ["share_pct"])
        tops = {
            k: disclose_columns(v, policy, {"households": ["households_pct", "households_index"]})
            for k, v in tops.items()
        }
    out = []
    for seg in segments:
        code = seg["code"]
        areas = tops.get(
            code, pd.DataFrame(columns=["area_code", "households", "households_pct", "households_index"])
        )
        areas = areas.assign(area_name=areas["area_code"].map(names))
        n = int(per_segment.get(code, 0))
        out.append(
            {
                **seg,
                "households": policy.value(n) if policy else n,
                "households_pct": float(round_ratio_half_away(100 * n, total, 2)) if total else None,
                "top_areas": table_records(
                    areas[["area_code", "area_name", "households", "households_pct", "households_index"]]
                ),
                "services": table_records(
                    indices.loc[
                        indices["segment"] == code,
                        [
                            "service",
                            "unit",
                            "target",
                            "penetration_pct",
                            "index",
                            "ci_low",
                            "ci_high",
                            "significant",
                        ],
                    ]
                ),
                "channel_use": table_records(
                    mix.loc[mix["group"] == code, ["channel", "events", "share_pct"]]
                ),
            }
        )
    return out
