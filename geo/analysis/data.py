"""Shared analysis inputs: households and service use per (area, segment), from PostGIS.

Every analysis (propensity tables, matrices, profiles, hot spots, demand, planning)
starts from these two frames, so the counting rules live in one place:

* only primary service events count (cross-system duplicates are resolved at ingest);
* a household classification attributes an event to its UPRN's segment; an area
  classification (OAC) to its output area's segment;
* OA-level figures roll up to any level or custom area set through ``area_membership``;
* **disclosure control**: when the connection carries a public caller's policy
  (:func:`geo.disclosure.protect`), every count is perturbed with the cell-key method and
  the public floors apply (areas under the household floor withheld, small ``within``
  areas and part-month dates refused) *here*, before any analysis derives a rate, an
  index, a z-score or a prediction from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.aggregates import aggregates_fresh, month_window
from geo.areas import Geography
from geo.cache import VersionedCache, cache_key
from geo.db import load_sql
from geo.disclosure import DisclosurePolicy, policy_of
from geo.errors import (
    InvalidRequest,
    PermissionDenied,
    UnknownArea,
    UnknownClassification,
    UnknownService,
)

Unit = Literal["events", "households"]


def check_classification(conn: Connection, classification: str) -> str:
    """Return the classification's unit ('household' or 'area'), or raise UnknownClassification."""
    unit = conn.execute(
        text("SELECT unit FROM classification WHERE code = :c"), {"c": classification}
    ).scalar_one_or_none()
    if unit is None:
        known = list(conn.execute(text("SELECT code FROM classification ORDER BY code")).scalars())
        raise UnknownClassification(
            f"`classification` was {classification!r} but is expected to be one of {known}"
        )
    return str(unit)


def resolve_tier(conn: Connection, classification: str | None, tier: str | None) -> str | None:
    """The classification code of ``classification`` at ``tier`` (OAC: supergroup, group, subgroup).

    A classification loaded with tiers (``geo.ingest``'s ``tiers``) stores its finest tier
    under its own code and each coarser tier as ``<code>_<tier>``, rolled up at ingest;
    ``tier=None`` returns ``classification`` unchanged.
    """
    if tier is None:
        return classification
    if classification is None:
        # the default classification's family (as geo.analysis.services.default_classification)
        classification = conn.execute(
            text(
                "SELECT code FROM classification ORDER BY (unit = 'household') DESC, "
                "(family IS NOT NULL AND family <> code), code LIMIT 1"
            )
        ).scalar_one_or_none()
        if classification is None:
            raise InvalidRequest("no classification is loaded: load one before asking for a tier")
    family = conn.execute(
        text("SELECT coalesce(family, code) FROM classification WHERE code = :c"), {"c": classification}
    ).scalar_one_or_none()
    if family is None:
        check_classification(conn, classification)
    rows = conn.execute(
        text(
            "SELECT code, tier FROM classification WHERE coalesce(family, code) = :f ORDER BY tier_rank, code"
        ),
        {"f": family},
    ).all()
    for code, name in rows:
        if name == tier:
            return str(code)
    tiers = [name for _, name in rows if name]
    raise InvalidRequest(
        f"`tier` was {tier!r} but {classification!r} has "
        + (f"the tiers {tiers}" if tiers else "no tiers (it was loaded without `tiers`)")
    )


def service_districts(conn: Connection, service: str, within: str | None) -> list[str] | None:
    """The districts an analysis of ``service`` covers: its own, unless ``within`` says otherwise."""
    if within is not None:
        return None
    from geo.catalogue import service_districts as recorded

    return recorded(conn, service)


def has_area_counts(conn: Connection, service: str) -> bool:
    """Whether the service's use was loaded as counts per area (``area-counts`` batches)."""
    return bool(
        conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM area_count WHERE service_code = :s)"), {"s": service}
        ).scalar()
    )


#: How counts per area become counts per output area and segment (stated in every meta).
APPORTIONMENT = (
    "counts per area apportioned to output areas in proportion to their households "
    "(n x households of the OA / households of the area), summed per area and segment, then "
    "rounded to whole numbers by the largest-remainder method; suppressed counts are left out"
)


def area_counts_meta(
    conn: Connection, service: str, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict[str, object] | None:
    """What a counts service's answer rests on: method, rows, the suppressed share; None for events."""
    if not has_area_counts(conn, service):
        return None
    r = (
        conn.execute(
            load_sql("analysis/area_counts_summary"),
            {"service": service, "date_from": date_from, "date_to": date_to},
        )
        .mappings()
        .one()
    )
    rows, supp = int(r["rows"]), int(r["suppressed_rows"])
    counted, lo, hi = int(r["counted"]), int(r["suppressed_min"]), int(r["suppressed_max"])
    return {
        "method": APPORTIONMENT,
        "source_levels": sorted(r["levels"] or []),
        "period_from": r["period_from"].isoformat() if r["period_from"] else None,
        "period_to": r["period_to"].isoformat() if r["period_to"] else None,
        "rows": rows,
        "suppressed_rows": supp,
        "suppressed_rows_share": round(supp / rows, 4) if rows else None,
        "counted": counted,
        "suppressed_between": [lo, hi],
        # the share of the true total the suppressed counts may be: at least lo/(counted+lo),
        # at most hi/(counted+hi)
        "suppressed_share_of_total": [
            round(lo / (counted + lo), 4) if counted + lo else None,
            round(hi / (counted + hi), 4) if counted + hi else None,
        ],
        "unapportioned": int(r["unapportioned"]),
    }


def round_largest_remainder(values: pd.Series) -> pd.Series:
    """Round non-negative values to integers keeping their rounded total (largest remainder).

    ``floor`` every value, then give the ``round(sum) - sum(floor)`` units left to the
    values with the largest fractional parts (ties to the earlier value).
    """
    x = values.to_numpy(dtype=float)
    if len(x) == 0:
        return values.astype("int64")
    floors = np.floor(x + 1e-9)
    left = int(round(float(x.sum()))) - int(floors.sum())
    if left > 0:
        order = np.argsort(-(x - floors), kind="stable")[:left]
        floors[order] += 1
    return pd.Series(floors.astype(np.int64), index=values.index)


def check_service(conn: Connection, service: str) -> None:
    """Raise UnknownService unless ``service`` is a service code."""
    found = conn.execute(text("SELECT 1 FROM service WHERE code = :s"), {"s": service}).scalar()
    if found is None:
        known = list(conn.execute(text("SELECT code FROM service ORDER BY code")).scalars())
        raise UnknownService(f"`service` was {service!r} but is expected to be one of {known}")


def _aggregate_params(
    conn: Connection,
    service: str,
    unit: Unit,
    date_from: dt.date | None,
    date_to: dt.date | None,
    channel: str | None,
) -> dict[str, object] | None:
    """Parameters for the aggregate query when it can answer exactly, else None.

    The whole-period view answers events and households without filters; the monthly one
    answers events with a channel and/or whole-month date range. Distinct households over a
    date range or channel cannot be summed from per-cell counts, so they go to the events.
    """
    if not aggregates_fresh(conn, [service]):
        return None
    if date_from is None and date_to is None and channel is None:
        return {"by_month": False, "month_from": None, "month_to": None}
    if unit == "households":
        return None
    window = month_window(date_from, date_to)
    if window is None:
        return None
    return {"by_month": True, "month_from": window[0], "month_to": window[1]}


def _geo_params(geography: Geography, within: str | None) -> dict[str, object]:
    return {"level": geography.level, "set_code": geography.set_code, "within": within}


def households_by_area_segment(
    conn: Connection,
    geography: Geography,
    classification: str,
    *,
    within: str | None = None,
    districts: list[str] | None = None,
) -> pd.DataFrame:
    """Households per (area, segment).

    Parameters
    ----------
    conn
        Connection to the Wardwise database.
    geography
        The areas to count in (a standard level or a custom area set).
    classification
        Classification code; household-level ones count each household's own segment,
        area-level ones give each household its output area's segment.
    within
        Optional area code: only output areas inside it are counted.
    districts
        Optional district codes: only output areas inside them are counted (a service's
        own districts, :func:`service_districts`, so that a district with no data for the
        service does not join its base).

    Returns
    -------
    DataFrame with columns ``area_code``, ``segment_code`` (None for unclassified
    households) and ``households`` (int64).
    """
    check_classification(conn, classification)
    check_within(conn, within)
    policy = policy_of(conn)
    if policy is not None:
        check_public_within(conn, policy, classification, within)
    if policy is not None and policy.seed is not None:
        params = {
            "classification": classification,
            "seed": policy.seed,
            "districts": districts,
            **_geo_params(geography, within),
        }

        def keyed_households() -> pd.DataFrame:
            rows = conn.execute(load_sql("analysis/households_by_area_segment_keyed"), params).all()
            keyed = pd.DataFrame(rows, columns=["area_code", "segment_code", "households", "key_sum"])
            # the floor from these true counts (no second query), then the perturbation
            totals = keyed.groupby("area_code")["households"].sum()
            floor = policy.floors.min_households if policy.floors is not None else 0
            keyed = keyed[keyed["area_code"].isin(totals.index[totals >= floor])].reset_index(drop=True)
            return _perturbed(keyed, "households", policy)

        # per data version and policy (geo.cache): one scan serves every analysis of the version
        key = cache_key("households_keyed", {k: v for k, v in params.items() if k != "seed"})
        return _KEYED.get_or_compute(conn, key, keyed_households).copy()
    # The per-OA aggregate gives the same answer while fresh (geo.analysis.aggregates).
    name = "households_by_area_segment_agg" if aggregates_fresh(conn, ()) else "households_by_area_segment"
    rows = conn.execute(
        load_sql(f"analysis/{name}"),
        {"classification": classification, "districts": districts, **_geo_params(geography, within)},
    ).all()
    frame = pd.DataFrame(rows, columns=["area_code", "segment_code", "households"])
    frame = frame.astype({"households": "int64"})
    return frame if policy is None else _floored(conn, policy, frame, geography, classification, within)


#: Protected (perturbed, floored) frames per data version and policy: the keyed scans are the
#: cost of protection, paid once per version for each question (geo.cache keys by policy).
_KEYED: VersionedCache[pd.DataFrame] = VersionedCache(256)


def _perturbed(keyed: pd.DataFrame, value: str, policy: DisclosurePolicy) -> pd.DataFrame:
    """Replace ``value`` by its cell-key perturbation and drop the key sums."""
    out = keyed.drop(columns="key_sum")
    out[value] = policy.perturb(keyed[value].to_numpy(), keyed["key_sum"].to_numpy()).astype("int64")
    return out


def _true_households(
    conn: Connection, geography: Geography, classification: str, within: str | None
) -> pd.Series:
    """True households per area (for the floors only: never published)."""

    def compute() -> pd.Series:
        name = "households_by_area_segment_agg" if aggregates_fresh(conn) else "households_by_area_segment"
        rows = conn.execute(
            load_sql(f"analysis/{name}"),
            {"classification": classification, "districts": None, **_geo_params(geography, within)},
        ).all()
        frame = pd.DataFrame(rows, columns=["area_code", "segment_code", "households"])
        return frame.groupby("area_code")["households"].sum().astype("int64")

    key = cache_key("true_households", classification, _geo_params(geography, within))
    return _TOTALS.get_or_compute(conn, key, compute)


_TOTALS: VersionedCache[pd.Series] = VersionedCache(256)


def _floored(
    conn: Connection,
    policy: DisclosurePolicy,
    frame: pd.DataFrame,
    geography: Geography,
    classification: str,
    within: str | None,
) -> pd.DataFrame:
    """Withhold the rows of areas with fewer true households than the public floor."""
    if policy.floors is None or frame.empty:
        return frame
    totals = _true_households(conn, geography, classification, within)
    kept = totals.index[totals >= policy.floors.min_households]
    return frame[frame["area_code"].isin(kept)].reset_index(drop=True)


def check_within(conn: Connection, within: str | None) -> None:
    """Raise UnknownArea (404) for a ``within`` code no area has."""
    if within is None:
        return
    if conn.execute(text("SELECT 1 FROM area WHERE code = :c"), {"c": within}).scalar() is None:
        raise UnknownArea(f"`area` (or `within`) was {within!r} but no area has that code")


def check_public_within(
    conn: Connection, policy: DisclosurePolicy | None, classification: str, within: str | None
) -> None:
    """Refuse a public ``within`` area holding fewer households than the floor."""
    if policy is None or policy.floors is None or within is None:
        return
    households = conn.execute(
        text(
            "SELECT coalesce(sum(a.households), 0) FROM area_membership w "
            "JOIN area a ON a.code = w.oa_code AND a.level = 'oa' WHERE w.area_code = :w"
        ),
        {"w": within},
    ).scalar_one()
    if int(households) < policy.floors.min_households:
        raise PermissionDenied(
            f"`within` area {within!r} has fewer than {policy.floors.min_households} households: "
            "public figures are published for larger areas only (an officer key sees all areas)"
        )


def check_public_dates(
    policy: DisclosurePolicy | None, date_from: dt.date | None, date_to: dt.date | None
) -> None:
    """Refuse public date filters that are not whole months (day-by-day differencing)."""
    if policy is None or policy.floors is None or not policy.floors.whole_months:
        return
    if month_window(date_from, date_to) is None:
        raise PermissionDenied(
            f"public date filters must be whole months: `date_from` the first day of a month and "
            f"`date_to` the last (got {date_from} to {date_to}); an officer key may use any dates"
        )


def service_counts_by_area_segment(
    conn: Connection,
    service: str,
    geography: Geography,
    classification: str,
    *,
    unit: Unit = "events",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    channel: str | None = None,
    within: str | None = None,
) -> pd.DataFrame:
    """Service use per (area, segment): events, or distinct households using the service.

    Parameters
    ----------
    service
        Service code.
    unit
        ``'events'`` counts every primary record; ``'households'`` counts distinct
        household keys (a household using the service twice counts once).
    date_from, date_to
        Inclusive date range; None leaves that end open.
    channel
        Only events through this channel.

    Returns
    -------
    DataFrame with columns ``area_code``, ``segment_code`` (None where the event has no
    household segment) and ``target`` (int64).
    """
    if unit not in ("events", "households"):
        raise InvalidRequest(f"`unit` was {unit!r} but is expected to be 'events' or 'households'")
    if date_from and date_to and date_from > date_to:
        raise InvalidRequest(f"`date_from` ({date_from}) is after `date_to` ({date_to})")
    check_service(conn, service)
    cls_unit = check_classification(conn, classification)
    check_within(conn, within)
    policy = policy_of(conn)
    if policy is not None:
        check_public_dates(policy, date_from, date_to)
        check_public_within(conn, policy, classification, within)
    if has_area_counts(conn, service):
        frame = _area_count_targets(
            conn,
            service,
            geography,
            classification,
            cls_unit,
            unit,
            date_from,
            date_to,
            channel,
            within,
            policy,
        )
        # public callers: counts perturbed at their source areas, then the floor (and suppression)
        return frame if policy is None else _floored(conn, policy, frame, geography, classification, within)
    params = {
        "service": service,
        "classification": classification,
        "unit": unit,
        "channel": channel,
        **_geo_params(geography, within),
    }
    by_aggregate = _aggregate_params(conn, service, unit, date_from, date_to, channel)
    if policy is not None and policy.seed is not None:
        bind = {**params, "date_from": date_from, "date_to": date_to, "seed": policy.seed}

        def keyed_counts() -> pd.DataFrame:
            rows = conn.execute(load_sql("analysis/service_counts_by_area_segment_keyed"), bind).all()
            keyed = pd.DataFrame(rows, columns=["area_code", "segment_code", "target", "key_sum"])
            return _floored(
                conn, policy, _perturbed(keyed, "target", policy), geography, classification, within
            )

        key = cache_key("counts_keyed", {k: v for k, v in bind.items() if k != "seed"})
        return _KEYED.get_or_compute(conn, key, keyed_counts).copy()
    if by_aggregate is not None:
        # Same answer from the per-OA aggregates (geo.analysis.aggregates): 10M events -> ms.
        rows = conn.execute(
            load_sql("analysis/service_counts_by_area_segment_agg"), {**params, **by_aggregate}
        ).all()
    else:
        rows = conn.execute(
            load_sql("analysis/service_counts_by_area_segment"),
            {**params, "date_from": date_from, "date_to": date_to},
        ).all()
    frame = pd.DataFrame(rows, columns=["area_code", "segment_code", "target"])
    frame = frame.astype({"target": "int64"})
    return frame if policy is None else _floored(conn, policy, frame, geography, classification, within)


def _area_count_targets(
    conn: Connection,
    service: str,
    geography: Geography,
    classification: str,
    cls_unit: str,
    unit: Unit,
    date_from: dt.date | None,
    date_to: dt.date | None,
    channel: str | None,
    within: str | None,
    policy: DisclosurePolicy | None = None,
) -> pd.DataFrame:
    """Service use per (area, segment) from counts per area, apportioned by households.

    With a perturbing ``policy`` each counted area's count is cell-key perturbed
    (``area_counts_keyed.sql``) before it is apportioned, so every figure derived from it
    (targets, rates, indices, hot spots) is computed from protected counts.
    """
    if cls_unit != "area":
        raise InvalidRequest(
            f"{service!r} is loaded as counts per area, which need an area-level classification "
            f"(such as OAC); {classification!r} is a household classification"
        )
    if channel is not None:
        raise InvalidRequest(f"{service!r} is loaded as counts per area, which have no channel")
    if unit == "households":
        raise InvalidRequest(
            f"{service!r} is loaded as counts per area: `unit` must be 'events' (the counts summed)"
        )
    codes: list[str] | None = None
    counts: list[float] | None = None
    if policy is not None and policy.seed is not None:
        keyed = pd.DataFrame(
            conn.execute(
                load_sql("analysis/area_counts_keyed"),
                {"service": service, "date_from": date_from, "date_to": date_to, "seed": policy.seed},
            ).all(),
            columns=["area_code", "n", "key_sum"],
        )
        codes = keyed["area_code"].tolist()
        counts = policy.perturb(keyed["n"].to_numpy(), keyed["key_sum"].to_numpy()).astype(float).tolist()
    rows = conn.execute(
        load_sql("analysis/area_counts_by_area_segment"),
        {
            "service": service,
            "classification": classification,
            "date_from": date_from,
            "date_to": date_to,
            "codes": codes,
            "counts": counts,
            **_geo_params(geography, within),
        },
    ).all()
    frame = pd.DataFrame(rows, columns=["area_code", "segment_code", "target"])
    frame["target"] = round_largest_remainder(frame["target"].astype(float))
    return frame.astype({"target": "int64"})
