"""Protected H3 inputs for public callers: perturbed, floored counts per (cell, segment).

:func:`geo.analysis.hotspot_queries.study_inputs` hands H3 studies here when the connection
carries a public policy (:func:`geo.disclosure.protect`); areas go through
:mod:`geo.analysis.data`, which applies the same policy. The floors: resolutions finer than
``floors.max_h3_resolution`` are refused, and cells with fewer true households than
``floors.min_households`` are withheld (neither their households nor their use is
published, so no statistic is computed for them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from geo.analysis.data import Unit, check_public_dates, check_public_within
from geo.analysis.h3cells import cells_of
from geo.db import load_sql
from geo.disclosure import DisclosurePolicy
from geo.errors import PermissionDenied


def _frame(rows: Sequence[Any], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: [] for c in columns})
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)))


def check_public_resolution(policy: DisclosurePolicy, resolution: int) -> None:
    """Refuse H3 resolutions finer than the public floor."""
    if policy.floors is not None and resolution > policy.floors.max_h3_resolution:
        raise PermissionDenied(
            f"`resolution` was {resolution} but public figures go no finer than H3 resolution "
            f"{policy.floors.max_h3_resolution} (finer cells hold too few households; an officer key may)"
        )


def _cell_sums(frame: pd.DataFrame, value: str, keys: str) -> pd.DataFrame:
    return frame.groupby(["area_code", "segment_code"], dropna=False, as_index=False)[[value, keys]].sum()


def protected_h3_inputs(
    conn: Connection,
    policy: DisclosurePolicy,
    service: str | None,
    resolution: int,
    classification: str,
    *,
    unit: Unit,
    date_from: dt.date | None,
    date_to: dt.date | None,
    within: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households and use per (H3 cell, segment), perturbed and floored for a public caller."""
    check_public_resolution(policy, resolution)
    check_public_within(conn, policy, classification, within)
    check_public_dates(policy, date_from, date_to)
    seed = policy.seed if policy.seed is not None else 0
    pts = _frame(
        conn.execute(
            load_sql("analysis/household_points_by_segment_keyed"),
            {"classification": classification, "within": within, "seed": seed, "resolution": resolution},
        ).all(),
        ["lng", "lat", "cell", "segment_code", "households", "key_sum"],
    )
    pts["area_code"] = cells_of(pts, resolution)
    households = _cell_sums(pts, "households", "key_sum")
    totals = households.groupby("area_code")["households"].sum()
    floor = policy.floors.min_households if policy.floors is not None else 0
    kept = set(totals.index[totals >= floor])
    households = households[households["area_code"].isin(kept)].reset_index(drop=True)
    households["households"] = policy.perturb(households["households"], households["key_sum"])
    households = households.drop(columns="key_sum").astype({"households": "int64"})
    empty = pd.DataFrame({"area_code": [], "segment_code": [], "target": []}).astype({"target": "int64"})
    if service is None:
        return households, empty
    ev = _frame(
        conn.execute(
            load_sql("analysis/service_points_by_segment_keyed"),
            {
                "service": service,
                "classification": classification,
                "within": within,
                "date_from": date_from,
                "date_to": date_to,
                "seed": seed,
                "resolution": resolution,
            },
        ).all(),
        [
            "lng",
            "lat",
            "cell",
            "segment_code",
            "household_key",
            "events",
            "event_keys",
            "household_record_key",
        ],
    )
    if ev.empty:
        return households, empty
    ev["area_code"] = cells_of(ev, resolution)
    ev = ev[ev["area_code"].isin(kept)]
    if unit == "households":
        ev = ev.dropna(subset=["household_key"]).drop_duplicates(
            ["area_code", "segment_code", "household_key"]
        )
        ev = ev.assign(target=1, key_sum=ev["household_record_key"])
    else:
        ev = ev.assign(target=ev["events"], key_sum=ev["event_keys"])
    counts = _cell_sums(ev, "target", "key_sum")
    counts["target"] = policy.perturb(counts["target"], counts["key_sum"])
    return households, counts.drop(columns="key_sum").astype({"target": "int64"})


# ---------------------------------------------------------------------- utility loss


def utility_loss(
    conn: Connection, policy: DisclosurePolicy, classification: str, level: str = "oa"
) -> pd.DataFrame:
    """What protection costs: per table, how much the public figures differ from the truth.

    For households per (area, segment) and each service's use per (area, segment) at
    ``level``: cells (non-zero true cells of the areas published), mean absolute
    perturbation, share of cells changed, largest change, and the share of areas (and of
    their households) withheld by the household floor. Truth and protected figures come
    from the same loaders (``geo.analysis.data``) without and with the policy, so this
    measures exactly what the public is served.
    """
    from sqlalchemy import text as sql

    from geo.analysis.data import households_by_area_segment, service_counts_by_area_segment
    from geo.areas import Geography
    from geo.disclosure import protect

    geography = Geography(level)
    true_conn = protect(conn, None)
    tables: list[tuple[str, pd.DataFrame, pd.DataFrame, str]] = []
    true_h = households_by_area_segment(true_conn, geography, classification)
    protect(conn, policy)
    pub_h = households_by_area_segment(conn, geography, classification)
    protect(conn, None)
    tables.append(("households", true_h, pub_h, "households"))
    services = conn.execute(sql("SELECT code, unit FROM service ORDER BY code")).all()
    for code, unit in services:
        u: Unit = "households" if unit == "membership" else "events"
        true_t = service_counts_by_area_segment(conn, code, geography, classification, unit=u)
        protect(conn, policy)
        pub_t = service_counts_by_area_segment(conn, code, geography, classification, unit=u)
        protect(conn, None)
        tables.append((f"{code} ({u})", true_t, pub_t, "target"))
    area_households = true_h.groupby("area_code")["households"].sum()
    withheld = area_households[~area_households.index.isin(pub_h["area_code"])]
    rows = []
    for name, true, pub, value in tables:
        merged = true.merge(pub, on=["area_code", "segment_code"], how="inner", suffixes=("_true", "_public"))
        merged = merged[merged[f"{value}_true"] > 0]
        diff = (merged[f"{value}_public"] - merged[f"{value}_true"]).abs()
        rows.append(
            {
                "table": name,
                "cells": int(len(merged)),
                "mean_abs_perturbation": round(float(diff.mean()), 3) if len(diff) else 0.0,
                "share_changed": round(float((diff > 0).mean()), 3) if len(diff) else 0.0,
                "max_change": int(diff.max()) if len(diff) else 0,
                "areas_withheld": round(len(withheld) / max(len(area_households), 1), 3),
                "households_withheld": round(
                    float(withheld.sum()) / max(float(area_households.sum()), 1.0), 4
                ),
            }
        )
    return pd.DataFrame(rows)
