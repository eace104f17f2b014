"""Channels and costs: channel mix, unit costs, channel-shift scenarios, what to web-enable next.

Unit costs come from the ``channel`` table (defaults in the ratio web 1 : phone 4 : face to
face 12 : post 12, and per-transaction payment costs), overridden per service by
``service.unit_costs`` and per request by the caller. Contact counts are annualised over
the period the events cover.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.aggregates import aggregates_fresh, month_window
from geo.analysis.data import (
    check_classification,
    check_public_dates,
    check_public_within,
    check_service,
    check_within,
    households_by_area_segment,
)
from geo.analysis.matrix import area_names
from geo.analysis.propensity import round_half_away, round_ratio_half_away
from geo.analysis.services import default_classification
from geo.areas import Geography, resolve_geography
from geo.db import load_sql
from geo.disclosure import DisclosurePolicy, perturbed_cells
from geo.errors import InvalidRequest

MixBy = Literal["segment", "area"]
#: Overrides from a request: {channel: cost} for every service, or {service: {channel: cost}}.
CostOverrides = dict[str, Any]

DAYS_PER_YEAR = 365.25


def channel_table(conn: Connection) -> pd.DataFrame:
    """Every channel: ``code, name, kind, unit_cost_gbp, is_digital``."""
    rows = conn.execute(
        text(
            "SELECT code, name, kind, unit_cost_gbp, is_digital FROM channel "
            "ORDER BY kind, unit_cost_gbp, code"
        )
    ).all()
    return pd.DataFrame(rows, columns=["code", "name", "kind", "unit_cost_gbp", "is_digital"])


def unit_costs(
    conn: Connection, service: str | None = None, overrides: CostOverrides | None = None
) -> dict[str, float]:
    """Unit cost per channel for ``service``: channel default < service override < request override.

    Parameters
    ----------
    service
        Service code whose ``unit_costs`` override the defaults (None: defaults only).
    overrides
        ``{channel: cost}`` applied to every service, and/or ``{service: {channel: cost}}``.
    """
    costs = {str(r.code): float(r.unit_cost_gbp) for r in channel_table(conn).itertuples()}
    if service is not None:
        per_service = conn.execute(
            text("SELECT unit_costs FROM service WHERE code = :s"), {"s": service}
        ).scalar_one_or_none()
        costs.update({str(k): float(v) for k, v in (per_service or {}).items()})
    for key, value in (overrides or {}).items():
        if isinstance(value, dict):
            if key == service:
                costs.update({str(k): _cost(f"unit_costs.{key}.{k}", v) for k, v in value.items()})
        else:
            costs[str(key)] = _cost(f"unit_costs.{key}", value)
    return costs


def _cost(field: str, value: Any) -> float:
    try:
        cost = float(value)
    except (TypeError, ValueError):
        cost = -1.0
    if not np.isfinite(cost) or cost < 0:
        raise InvalidRequest(f"`{field}` was {value!r} but is expected to be a cost in GBP >= 0")
    return cost


def channel_events(
    conn: Connection,
    classification: str,
    geography: Geography,
    *,
    service: str | None = None,
    within: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Primary events per ``area_code, segment_code, service_code, channel`` (column ``events``).

    With ``seed`` (a public policy's record-key seed, geo/disclosure.py) the frame also has
    ``key_sum``, each cell's sum of its events' record keys, read from the events (the
    aggregates hold no keys), so a caller can perturb any grouping of the cells.
    """
    check_classification(conn, classification)
    if service is not None:
        check_service(conn, service)
    params: dict[str, object] = {
        "classification": classification,
        "level": geography.level,
        "set_code": geography.set_code,
        "within": within,
        "service": service,
    }
    window = month_window(date_from, date_to)
    if seed is None and window is not None and aggregates_fresh(conn):
        query = load_sql("analysis/events_by_area_segment_channel_agg")
        params |= {"month_from": window[0], "month_to": window[1]}
    else:
        query = load_sql("analysis/events_by_area_segment_channel")
        params |= {"date_from": date_from, "date_to": date_to, "seed": seed}
    rows = conn.execute(query, params).all()
    columns = ["area_code", "segment_code", "service_code", "channel", "events"]
    if seed is None:
        frame = pd.DataFrame([r[:5] for r in rows], columns=columns)
        return frame.astype({"events": "int64"})
    frame = pd.DataFrame(rows, columns=[*columns, "key_sum"])
    return frame.astype({"events": "int64", "key_sum": "int64"})


def mix_table(events: pd.DataFrame, by: str, costs: dict[str, float] | None = None) -> pd.DataFrame:
    """Channel shares within each group (``by`` is a column of ``events``).

    Returns ``group, channel, events, share_pct`` (share of the group's events, 2 decimals,
    half away from zero) and, with ``costs``, ``unit_cost_gbp`` and ``cost_gbp``.
    """
    grouped = events.groupby([by, "channel"], dropna=False)["events"].sum().reset_index()
    grouped = grouped.rename(columns={by: "group"})
    totals = grouped.groupby("group", dropna=False)["events"].transform("sum")
    grouped["share_pct"] = round_ratio_half_away(
        100 * grouped["events"].to_numpy(dtype=object), totals.to_numpy(dtype=object), 2
    )
    if costs is not None:
        grouped["unit_cost_gbp"] = grouped["channel"].map(costs)
        grouped["cost_gbp"] = round_half_away(grouped["events"] * grouped["unit_cost_gbp"], 2)
    return grouped.sort_values(["group", "events"], ascending=[True, False], ignore_index=True)


def channel_mix(
    conn: Connection,
    by: MixBy,
    classification: str | None,
    *,
    level: str = "ward",
    service: str | None = None,
    within: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    cost_overrides: CostOverrides | None = None,
    policy: DisclosurePolicy | None = None,
) -> pd.DataFrame:
    """Channel mix by segment or by area (events, share, unit cost, cost of each channel).

    For a public caller (``policy``) every group-by-channel count is cell-key perturbed
    before shares and costs are computed from it, dates must be whole months, ``within``
    must hold the household floor, areas under the floor are withheld, and the table is
    then protected as a two-way table (small counts and the entries that would reveal them).
    """
    classification = classification or default_classification(conn)
    geography = resolve_geography(conn, level)
    check_within(conn, within)
    if policy is not None:
        check_public_dates(policy, date_from, date_to)
        check_public_within(conn, policy, classification, within)
    seed = policy.seed if policy is not None else None
    events = channel_events(
        conn,
        classification,
        geography,
        service=service,
        within=within,
        date_from=date_from,
        date_to=date_to,
        seed=seed,
    )
    column = "segment_code" if by == "segment" else "area_code"
    if policy is not None and by == "area" and policy.floors is not None:
        households = households_by_area_segment(conn, geography, classification, within=within)
        events = events[events["area_code"].isin(households["area_code"])]
    if policy is not None and seed is not None:
        events = perturbed_cells(events, [column, "channel"], "events", policy)
    costs = unit_costs(conn, service, cost_overrides)
    table = mix_table(events, column, costs)
    if policy is not None:
        table = policy.long(table, "group", "channel", "events", ["share_pct", "cost_gbp"])
    return table


def service_years(
    conn: Connection, service: str, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> float:
    """Years the counted events cover: the filter's range, else the service's first to last event."""
    period = {
        str(r.service_code): (r.first_date, r.last_date)
        for r in conn.execute(load_sql("analysis/service_periods")).all()
    }
    first, last = period.get(service, (None, None))
    start, end = date_from or first, date_to or last
    if start is None or end is None:
        return 1.0
    return max((end - start).days + 1, 1) / DAYS_PER_YEAR


def shift_scenario(
    events: pd.DataFrame,
    segment: str,
    from_channel: str,
    to_channel: str,
    share_pct: float,
    costs: dict[str, float],
    years: float,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Move ``share_pct`` % of a segment's contacts from one channel to another.

    Parameters
    ----------
    events
        ``area_code, segment_code, channel, events`` for one service.
    costs
        Unit cost per channel.
    years
        Period the events cover, to annualise.

    Returns
    -------
    The summary (contacts moved a year, unit costs, annual saving) and the same per area
    (``area_code, contacts_moved_per_year, annual_saving_gbp``), largest saving first.

    Notes
    -----
    ``moved_a = share × events(a, S, from) / years`` and
    ``saving_a = moved_a × (cost(from) - cost(to))``; the total is their sum. A negative
    saving means the shift costs money.
    """
    for name, channel in (("from_channel", from_channel), ("to_channel", to_channel)):
        if channel not in costs:
            raise InvalidRequest(f"`{name}` was {channel!r} but is expected to be one of {sorted(costs)}")
    if not 0 <= share_pct <= 100:
        raise InvalidRequest(f"`share_pct` was {share_pct!r} but is expected to be between 0 and 100")
    chosen = events[(events["segment_code"] == segment) & (events["channel"] == from_channel)]
    by_area = chosen.groupby("area_code")["events"].sum().reset_index()
    per_contact = costs[from_channel] - costs[to_channel]
    moved = by_area["events"].to_numpy(dtype=float) * share_pct / 100 / years
    by_area["contacts_moved_per_year"] = round_half_away(moved, 1)
    by_area["annual_saving_gbp"] = round_half_away(moved * per_contact, 2)
    by_area = by_area.rename(columns={"events": "contacts_in_period"})
    by_area = by_area.sort_values(
        ["annual_saving_gbp", "area_code"], ascending=[False, True], ignore_index=True
    )
    contacts = int(chosen["events"].sum())
    summary = {
        "segment": segment,
        "from_channel": from_channel,
        "to_channel": to_channel,
        "share_pct": share_pct,
        "contacts_in_period": contacts,
        "period_years": float(round_half_away(years, 3)),
        "contacts_moved_per_year": float(round_half_away(contacts * share_pct / 100 / years, 1)),
        "unit_cost_from_gbp": costs[from_channel],
        "unit_cost_to_gbp": costs[to_channel],
        "saving_per_contact_gbp": float(round_half_away(per_contact, 4)),
        "annual_saving_gbp": float(round_half_away(contacts * share_pct / 100 / years * per_contact, 2)),
    }
    return summary, by_area


def channel_shift(
    conn: Connection,
    service: str,
    segment: str,
    from_channel: str,
    to_channel: str,
    share_pct: float,
    *,
    classification: str | None,
    level: str = "ward",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    cost_overrides: CostOverrides | None = None,
) -> dict[str, Any]:
    """A channel-shift scenario for one service and segment: annual saving, and where (by area).

    See :func:`shift_scenario` for the arithmetic; each area also carries its name and the
    segment's households there.
    """
    classification = classification or default_classification(conn)
    geography = resolve_geography(conn, level)
    events = channel_events(
        conn, classification, geography, service=service, date_from=date_from, date_to=date_to
    )
    known = set(
        conn.execute(
            text("SELECT code FROM segment WHERE classification_code = :c"), {"c": classification}
        ).scalars()
    )
    if segment not in known:
        raise InvalidRequest(f"`segment` was {segment!r} but is expected to be one of {sorted(known)}")
    costs = unit_costs(conn, service, cost_overrides)
    years = service_years(conn, service, date_from, date_to)
    summary, by_area = shift_scenario(events, segment, from_channel, to_channel, share_pct, costs, years)
    households = households_by_area_segment(conn, geography, classification)
    seg_households = households[households["segment_code"] == segment].set_index("area_code")["households"]
    by_area["segment_households"] = by_area["area_code"].map(seg_households).fillna(0).astype("int64")
    names = {a["code"]: a["name"] for a in area_names(conn, by_area["area_code"].tolist())}
    by_area.insert(1, "area_name", by_area["area_code"].map(names))
    return {
        **summary,
        "service": service,
        "classification": classification,
        "level": geography.label,
        "by_area": by_area,
    }


def web_enable_scores(
    events: pd.DataFrame,
    channels: pd.DataFrame,
    costs_by_service: dict[str, dict[str, float]],
    web_ready_segments: set[str],
    years_by_service: dict[str, float],
    offered: dict[str, list[str]],
) -> pd.DataFrame:
    """Rank services by the annual saving a digital channel could win from web-ready segments.

    Parameters
    ----------
    events
        ``segment_code, service_code, channel, events``.
    channels
        The channel table (``code, kind, is_digital``).
    costs_by_service
        Unit cost per channel for each service.
    web_ready_segments
        Segments whose preferred channels include the web.
    years_by_service
        Period each service's events cover.
    offered
        Channels each service offers now (``service.channels``).

    Returns
    -------
    One row per service: ``service, digital_channel, web_enabled, annual_contacts,
    non_digital_per_year, digital_share_pct, saving_per_contact_gbp, web_ready_share_pct,
    score_gbp``, best first.

    Notes
    -----
    ``score = volume × cost saving × web-ready share``, where volume is the service's
    non-digital contacts a year, the saving per contact is their mean unit cost minus the
    cheapest digital channel of the same kind (contact or payment), and the web-ready
    share is the fraction of those contacts made by web-ready segments: the annual saving
    if every web-ready household's non-digital contact moved online. The digital channel
    is the one of that kind the service's users already take most (the web form, online
    payment), else the cheapest digital channel of the kind. Savings per contact keep 4 decimals: payment
    channels differ by pennies, and 2 decimals would move the score by over 1%.
    """
    kind = channels.set_index("code")["kind"]
    digital = set(channels.loc[channels["is_digital"], "code"])
    ev = events.assign(kind=events["channel"].map(kind), digital=events["channel"].isin(digital))
    rows = []
    for service, group in ev.groupby("service_code"):
        costs = costs_by_service[str(service)]
        main_kind = group.groupby("kind")["events"].sum().idxmax()
        digital_of_kind = channels[(channels["kind"] == main_kind) & channels["is_digital"]]["code"]
        used = group[group["channel"].isin(digital_of_kind)].groupby("channel")["events"].sum()
        # The digital channel the service's users already take; else the cheapest one offered.
        target = str(used.idxmax()) if len(used) else min(digital_of_kind, key=lambda c: costs.get(c, np.inf))
        years = years_by_service[str(service)]
        non_digital = group[~group["digital"]]
        volume = non_digital["events"].sum() / years
        unit = non_digital["channel"].map(costs).to_numpy(dtype=float)
        weights = non_digital["events"].to_numpy(dtype=float)
        mean_cost = float(np.average(unit, weights=weights)) if weights.sum() else 0.0
        saving = max(mean_cost - costs[target], 0.0)
        ready = non_digital["segment_code"].isin(web_ready_segments).to_numpy()
        ready_share = float(weights[ready].sum() / weights.sum()) if weights.sum() else 0.0
        total = group["events"].sum()
        rows.append(
            {
                "service": str(service),
                "digital_channel": target,
                "web_enabled": target in offered.get(str(service), []),
                "annual_contacts": float(round_half_away(total / years, 0)),
                "non_digital_per_year": float(round_half_away(volume, 0)),
                "digital_share_pct": float(
                    round_half_away(100 * group.loc[group["digital"], "events"].sum() / total, 2)
                ),
                "saving_per_contact_gbp": float(round_half_away(saving, 4)),
                "web_ready_share_pct": float(round_half_away(100 * ready_share, 2)),
                "score_gbp": float(round_half_away(volume * saving * ready_share, 2)),
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values(["score_gbp", "service"], ascending=[False, True], ignore_index=True)


def web_enable_ranking(
    conn: Connection,
    classification: str | None,
    *,
    cost_overrides: CostOverrides | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> pd.DataFrame:
    """Which services to web-enable next (see :func:`web_enable_scores`), with their names."""
    classification = classification or default_classification(conn)
    events = channel_events(conn, classification, Geography("district"), date_from=date_from, date_to=date_to)
    events = events.groupby(["segment_code", "service_code", "channel"], dropna=False)["events"].sum()
    events = events.reset_index()
    services = conn.execute(text("SELECT code, name, channels FROM service ORDER BY code")).all()
    ready = set(
        conn.execute(
            text(
                "SELECT code FROM segment WHERE classification_code = :c AND 'web' = ANY(preferred_channels)"
            ),
            {"c": classification},
        ).scalars()
    )
    table = web_enable_scores(
        events,
        channel_table(conn),
        {s.code: unit_costs(conn, s.code, cost_overrides) for s in services},
        ready,
        {s.code: service_years(conn, s.code, date_from, date_to) for s in services},
        {s.code: list(s.channels or []) for s in services},
    )
    if not table.empty:
        table.insert(1, "name", table["service"].map({s.code: s.name for s in services}))
    return table
