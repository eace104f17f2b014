"""Digital exclusion in a channel shift: who would need assisted digital, and what it costs.

Before a channel-shift plan is costed (:mod:`geo.analysis.channels`), this module finds the
segments and areas whose **web propensity** is low: the share of their contacts (over every
service, contact channels only) made on the web, as an index against the whole study area.
A segment or area is *low-web* when that index is below ``max_web_index`` (80 by default),
and the response shows how much of its contact comes face to face and by phone.

The shift moves ``share_pct`` % of a service's contacts through ``from_channels`` to
``to_channel`` (the web). Contacts moved from low-web segments are assumed to need
**assisted digital** (someone helps them through the web form) in the proportion
``assisted_pct``; an assisted contact costs the face-to-face rate, not the web rate. So::

    moved_{s,c}     = share × contacts_{s,c} / years
    gross saving    = Σ_{s,c} moved_{s,c} × (cost_c − cost_web)
    assisted        = assisted_pct × Σ_{s low-web, c} moved_{s,c}
    net saving      = gross saving − assisted × (cost_face_to_face − cost_web)

The same per area, the area's own contacts split by segment. This follows the Government
Digital Service's assisted-digital guidance (GOV.UK Service Manual, "Assisted digital
support") and the usual council business case, which costs assisted contacts at the
face-to-face rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.channels import CostOverrides, channel_events, channel_table, service_years, unit_costs
from geo.analysis.matrix import area_names
from geo.analysis.propensity import round_half_away, round_ratio_half_away
from geo.analysis.services import default_classification
from geo.areas import resolve_geography
from geo.errors import InvalidRequest

FACE_TO_FACE = "face_to_face"
WEB = "web"


def web_propensity(
    events: pd.DataFrame,
    by: str,
    *,
    web_channels: Sequence[str] = (WEB,),
    offline_channels: Sequence[str] = (FACE_TO_FACE, "phone"),
    max_web_index: float = 80.0,
) -> pd.DataFrame:
    """Web share of contacts per group, as an index against everyone's, and the low-web flag.

    Parameters
    ----------
    events
        ``<by>, channel, events`` (contact channels only).
    by
        The grouping column (``segment_code`` or ``area_code``).

    Returns
    -------
    Indexed by the group: ``contacts``, ``web_contacts``, ``web_share_pct``, ``web_index``
    (``100 × share / overall share``), ``offline_share_pct`` (face to face and phone),
    ``low_web`` (``web_index < max_web_index``).
    """
    grouped = events.groupby([by, "channel"])["events"].sum().unstack(fill_value=0)
    total = grouped.sum(axis=1).astype("int64")
    web = grouped.reindex(columns=list(web_channels), fill_value=0).sum(axis=1).astype("int64")
    offline = grouped.reindex(columns=list(offline_channels), fill_value=0).sum(axis=1).astype("int64")
    big_t, big_w = int(total.sum()), int(web.sum())
    t, w, o = (x.to_numpy(dtype=object) for x in (total, web, offline))
    index = round_ratio_half_away(100 * w * big_t, t * big_w, 0)
    return pd.DataFrame(
        {
            "contacts": total,
            "web_contacts": web,
            "web_share_pct": round_ratio_half_away(100 * w, t, 2),
            "web_index": index,
            "offline_share_pct": round_ratio_half_away(100 * o, t, 2),
            "low_web": np.nan_to_num(index, nan=np.inf) < max_web_index,
        },
        index=grouped.index,
    )


def exclusion_costs(
    service_events: pd.DataFrame,
    low_web_segments: Sequence[str],
    costs: dict[str, float],
    years: float,
    *,
    share_pct: float,
    from_channels: Sequence[str],
    to_channel: str = WEB,
    assisted_pct: float = 100.0,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """The shift's saving with and without assisted digital (module docstring's formulas).

    Parameters
    ----------
    service_events
        ``area_code, segment_code, channel, events`` of the service.
    low_web_segments
        Segments whose moved contacts need assisted digital.
    costs
        Unit cost per channel (must include ``from_channels``, ``to_channel`` and
        face to face).
    years
        Period the events cover.

    Returns
    -------
    ``(summary, by_segment, by_area)``; the frames have ``moved_per_year``,
    ``assisted_per_year``, ``saving_without_exclusion_gbp`` and
    ``saving_with_exclusion_gbp``.
    """
    for name, channels in (("from_channels", list(from_channels)), ("to_channel", [to_channel])):
        unknown = [c for c in channels if c not in costs]
        if unknown:
            raise InvalidRequest(f"`{name}` has {unknown} but is expected to be among {sorted(costs)}")
    if FACE_TO_FACE not in costs:
        raise InvalidRequest("no face-to-face unit cost is known, so assisted digital cannot be costed")
    if not from_channels or to_channel in from_channels:
        raise InvalidRequest("`from_channels` must be non-empty and must not include `to_channel`")
    if not 0 <= share_pct <= 100:
        raise InvalidRequest(f"`share_pct` was {share_pct!r} but is expected to be between 0 and 100")
    if not 0 <= assisted_pct <= 100:
        raise InvalidRequest(f"`assisted_pct` was {assisted_pct!r} but is expected to be between 0 and 100")
    chosen = service_events[service_events["channel"].isin(list(from_channels))].copy()
    moved = chosen["events"].to_numpy(dtype=float) * share_pct / 100 / years
    per_contact = chosen["channel"].map(lambda c: costs[c] - costs[to_channel]).to_numpy(dtype=float)
    low = chosen["segment_code"].isin(list(low_web_segments)).to_numpy()
    assisted = np.where(low, moved * assisted_pct / 100, 0.0)
    assist_cost = costs[FACE_TO_FACE] - costs[to_channel]
    chosen["moved_per_year"] = moved
    chosen["assisted_per_year"] = assisted
    chosen["saving_without_exclusion_gbp"] = moved * per_contact
    chosen["saving_with_exclusion_gbp"] = moved * per_contact - assisted * assist_cost
    sums = [
        "moved_per_year",
        "assisted_per_year",
        "saving_without_exclusion_gbp",
        "saving_with_exclusion_gbp",
    ]

    def total_by(column: str) -> pd.DataFrame:
        out = chosen.groupby(column, dropna=False)[sums].sum().reset_index()
        return out.sort_values(
            ["saving_with_exclusion_gbp", column], ascending=[False, True], ignore_index=True
        )

    by_segment, by_area = total_by("segment_code"), total_by("area_code")
    gross = float(chosen["saving_without_exclusion_gbp"].sum())
    net = float(chosen["saving_with_exclusion_gbp"].sum())
    summary = {
        "share_pct": share_pct,
        "from_channels": list(from_channels),
        "to_channel": to_channel,
        "assisted_pct": assisted_pct,
        "period_years": float(round_half_away(years, 3)),
        "contacts_moved_per_year": float(round_half_away(moved.sum(), 1)),
        "assisted_contacts_per_year": float(round_half_away(assisted.sum(), 1)),
        "assisted_unit_cost_gbp": costs[FACE_TO_FACE],
        "to_channel_unit_cost_gbp": costs[to_channel],
        "annual_saving_without_exclusion_gbp": float(round_half_away(gross, 2)),
        "annual_saving_with_exclusion_gbp": float(round_half_away(net, 2)),
        "assisted_digital_cost_gbp": float(round_half_away(gross - net, 2)),
    }
    for frame in (by_segment, by_area):
        frame[["moved_per_year", "assisted_per_year"]] = round_half_away(
            frame[["moved_per_year", "assisted_per_year"]].to_numpy(dtype=float), 1
        )
        cols = ["saving_without_exclusion_gbp", "saving_with_exclusion_gbp"]
        frame[cols] = round_half_away(frame[cols].to_numpy(dtype=float), 2)
    return summary, by_segment, by_area


def digital_exclusion(
    conn: Connection,
    service: str,
    *,
    share_pct: float,
    from_channels: Sequence[str] = (FACE_TO_FACE, "phone"),
    to_channel: str = WEB,
    assisted_pct: float = 100.0,
    max_web_index: float = 80.0,
    classification: str | None = None,
    level: str = "ward",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    cost_overrides: CostOverrides | None = None,
) -> dict[str, Any]:
    """Low-web segments and areas, assisted-digital contacts and the net saving of a shift.

    Web propensity is measured over every service's contacts in the period (so a service
    with no web channel yet can still be planned); the shift and its costs are the
    service's. See the module docstring for the arithmetic.

    Returns
    -------
    A dict: the summary figures, ``service``, ``classification``, ``level``,
    ``max_web_index``, ``low_web_segments``, ``segments`` (per segment: web propensity
    and the shift) and ``areas`` (per area: the same), and ``low_web_areas``.
    """
    if not np.isfinite(max_web_index) or max_web_index <= 0:
        raise InvalidRequest(f"`max_web_index` was {max_web_index!r} but is expected to be above 0")
    classification = classification or default_classification(conn)
    geography = resolve_geography(conn, level)
    channels = channel_table(conn)
    contact = set(channels.loc[channels["kind"] == "contact", "code"])
    everything = channel_events(conn, classification, geography, date_from=date_from, date_to=date_to)
    everything = everything[everything["channel"].isin(contact)]
    service_ev = channel_events(
        conn, classification, geography, service=service, date_from=date_from, date_to=date_to
    )
    if everything.empty:
        raise InvalidRequest("no contacts are recorded in the period, so web propensity cannot be measured")
    seg = web_propensity(
        everything.dropna(subset=["segment_code"]), "segment_code", max_web_index=max_web_index
    )
    area = web_propensity(everything, "area_code", max_web_index=max_web_index)
    low_segments = sorted(seg.index[seg["low_web"]].tolist())
    costs = unit_costs(conn, service, cost_overrides)
    years = service_years(conn, service, date_from, date_to)
    summary, by_segment, by_area = exclusion_costs(
        service_ev,
        low_segments,
        costs,
        years,
        share_pct=share_pct,
        from_channels=from_channels,
        to_channel=to_channel,
        assisted_pct=assisted_pct,
    )
    names: dict[str, str] = dict(
        conn.execute(
            text("SELECT code, name FROM segment WHERE classification_code = :c"), {"c": classification}
        ).all()
    )
    segments = seg.rename_axis("segment").reset_index()
    segments.insert(1, "name", segments["segment"].map(names))
    segments = segments.merge(
        by_segment.rename(columns={"segment_code": "segment"}), on="segment", how="left"
    ).sort_values(["web_index", "segment"], ignore_index=True)
    areas = area.rename_axis("area_code").reset_index().merge(by_area, on="area_code", how="left")
    area_name = {a["code"]: a["name"] for a in area_names(conn, areas["area_code"].tolist())}
    areas.insert(1, "name", areas["area_code"].map(area_name))
    areas = areas.sort_values(["web_index", "area_code"], ignore_index=True)
    for frame in (segments, areas):
        for col in (
            "moved_per_year",
            "assisted_per_year",
            "saving_without_exclusion_gbp",
            "saving_with_exclusion_gbp",
        ):
            frame[col] = frame[col].fillna(0.0)
        frame["web_index"] = frame["web_index"].astype("Int64")
    return {
        **summary,
        "service": service,
        "classification": classification,
        "level": geography.label,
        "max_web_index": max_web_index,
        "web_propensity": "share of all contacts (every service, contact channels) made on the web, "
        "as an index against the whole study area; low-web below max_web_index",
        "low_web_segments": low_segments,
        "low_web_areas": areas.loc[areas["low_web"], "area_code"].tolist(),
        "segments": segments,
        "areas": areas,
    }
