"""Community profiles: one area's households, segment mix, service take-up, channels and issues.

Take-up is judged against what the area's own mix of households predicts (indirect
standardisation): an area full of segments that use a service heavily is *expected* to use
it heavily, and only use beyond that is a local signal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis import contiguity
from geo.analysis.channels import channel_events
from geo.analysis.data import check_classification, households_by_area_segment, service_counts_by_area_segment
from geo.analysis.propensity import round_half_away, round_ratio_half_away, significance_flags, table_records
from geo.analysis.services import check_area, default_classification, natural_unit
from geo.analysis.similar import most_similar, segment_shares
from geo.analysis.survey import poisson_ratio_interval
from geo.areas import Geography
from geo.cache import EVERYTHING, Depends, VersionedCache, cache_key, register_for_staleness
from geo.errors import InvalidRequest

#: A service is a key issue where its rate is at least this index against the district
#: and significantly so.
KEY_ISSUE_INDEX = 120
#: How many similar areas (by segment mix) a profile compares with.
SIMILAR_AREAS = 5

LEVEL_NAMES = {
    "oa": "output area",
    "lsoa": "LSOA",
    "msoa": "MSOA",
    "ward": "ward",
    "district": "district",
    "custom": "custom area",
}


def _geography_of(area: dict[str, Any]) -> Geography:
    if area["level"] == "custom":
        return Geography("custom", area["set_code"])
    return Geography(area["level"])


def take_up(
    households: pd.DataFrame, target: pd.DataFrame, rates: pd.Series, confidence: float = 0.95
) -> pd.DataFrame:
    """Observed against expected service use per area, from the area's segment mix.

    Parameters
    ----------
    households
        ``area_code, segment_code, households``.
    target
        ``area_code, segment_code, target`` (the service's use).
    rates
        Reference use per household for each segment (index: segment code).

    Returns
    -------
    Per area: ``households, observed, expected, ratio, ci_low, ci_high, significant,
    rate_per_1000``.

    Notes
    -----
    ``expected_a = Σ_s households(a, s) × rate_s`` and ``ratio = 100 × observed / expected``
    (indirect standardisation, as a standardised ratio: Breslow and Day, 1987, vol. II,
    ch. 2), with the exact Poisson (Garwood) interval of the observed count. Only classified
    households and use count on both sides, so the unclassified do not bias the ratio.
    """
    hh = households.dropna(subset=["segment_code"])
    tg = target.dropna(subset=["segment_code"])
    h = hh.pivot_table(
        index="area_code", columns="segment_code", values="households", aggfunc="sum", fill_value=0
    )
    r = rates.reindex(h.columns).fillna(0.0).to_numpy(dtype=float)
    expected = h.to_numpy(dtype=float) @ r
    observed = tg.groupby("area_code")["target"].sum().reindex(h.index, fill_value=0).to_numpy(dtype=np.int64)
    n = h.sum(axis=1).to_numpy(dtype=np.int64)
    low, high = poisson_ratio_interval(observed, expected, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = 100 * observed / expected
    return pd.DataFrame(
        {
            "area_code": h.index.to_numpy(),
            "households": n,
            "observed": observed,
            "expected": round_half_away(expected, 1),
            "ratio": round_half_away(ratio, 0),
            "ci_low": round_half_away(low, 0),
            "ci_high": round_half_away(high, 0),
            "significant": significance_flags(low, high),
            "rate_per_1000": round_ratio_half_away(1000 * observed.astype(object), n.astype(object), 2),
        }
    )


def _district_rates(households: pd.DataFrame, target: pd.DataFrame) -> pd.Series:
    h = households.dropna(subset=["segment_code"]).groupby("segment_code")["households"].sum()
    t = target.dropna(subset=["segment_code"]).groupby("segment_code")["target"].sum()
    return (t.reindex(h.index, fill_value=0) / h.where(h > 0)).fillna(0.0)


def area_profile(
    conn: Connection,
    code: str,
    classification: str | None = None,
    *,
    comparator: str = "district",
    k: int = SIMILAR_AREAS,
) -> dict[str, Any]:
    """The community profile of any area (any level or custom set), against its district.

    ``comparator`` chooses what the spine chart compares the segment mix with
    (:func:`spine_comparator`): ``district`` (default), ``parent`` or ``similar`` (the mean
    of the ``k`` most similar areas); each segment then carries ``comparator_pct`` and
    ``comparator_index`` and the profile a ``comparator`` block.

    Returns
    -------
    A dict with ``area``, ``classification``, ``district`` (code, households),
    ``segments`` (mix against the district with location-quotient indices), ``services``
    (take-up against the mix-predicted expectation, and the raw rate against the
    district's), ``channels`` (share of contacts per channel against the district's),
    ``key_issues`` (services used significantly more than across the district, and the
    issues of the area's most over-represented segments), ``neighbours`` (areas of the same
    level sharing a boundary, ST_Touches), ``parent`` and ``similar`` (the five areas of
    the same level closest in segment mix, by Hellinger distance) with their take-up, and a
    ``pen_portrait`` written from those figures.

    Notes
    -----
    A profile takes some 80 queries; it is cached per data version (``geo.cache``), so an
    officer clicking around the map recomputes it only after the data changes.
    """
    profile = _PROFILES.get_or_compute(
        conn,
        cache_key("profile", code, classification),
        lambda: _area_profile(conn, code, classification),
        deps=_profile_depends(conn, code),
        recompute=lambda own: _area_profile(own, code, classification),
    )
    return with_comparator(conn, profile, comparator, k)


# --------------------------------------------------------------------- spine comparator

COMPARATORS: tuple[str, ...] = ("district", "parent", "similar")


def spine_comparator(
    conn: Connection, code: str, classification: str, comparator: str = "district", k: int = SIMILAR_AREAS
) -> dict[str, Any]:
    """The segment shares the spine chart compares an area with.

    * ``district``: the district's share of households per segment;
    * ``parent``: the parent area's (a ward's district, an LSOA's ward ...);
    * ``similar``: the **mean** of the shares of the ``k`` same-level areas closest in
      segment mix (Hellinger distance, :mod:`geo.analysis.similar`), each area counting once:
      ``c_s = (1/k) Σ_{b in similar} p_s(b)``.

    Returns ``{"kind", "label", "k", "areas": [{code, name}], "shares": Series}`` (shares
    in 0..1 over the classification's segments).
    """
    if comparator not in COMPARATORS:
        raise InvalidRequest(
            f"`comparator` was {comparator!r} but is expected to be one of {list(COMPARATORS)}"
        )
    area = check_area(conn, code)
    if comparator == "similar":
        if k < 1:
            raise InvalidRequest(f"`k` was {k!r} but is expected to be at least 1")
        shares = segment_shares(households_by_area_segment(conn, _geography_of(area), classification))
        if code not in shares.index:
            raise InvalidRequest(f"`area` {code!r} has no classified households, so it has no similar areas")
        best = most_similar(shares, code, k, "hellinger")["area_code"].tolist()
        names = {r["code"]: r["name"] for r in _names(conn, best)}
        return {
            "kind": "similar",
            "label": f"mean of {len(best)} similar areas",
            "k": len(best),
            "areas": [{"code": c, "name": names.get(c, c)} for c in best],
            "shares": shares.loc[best].mean(axis=0),
        }
    target = area["district_code"] or (area["code"] if area["level"] == "district" else None)
    if comparator == "parent":
        target = area["parent_code"]
        if target is None:
            raise InvalidRequest(f"`area` {code!r} has no parent area to compare with")
    if target is None:
        raise InvalidRequest(f"`area` {code!r} has no district to compare with")
    other = check_area(conn, target)
    shares = segment_shares(households_by_area_segment(conn, _geography_of(other), classification))
    if target not in shares.index:
        raise InvalidRequest(f"the comparator {target!r} has no classified households")
    return {
        "kind": comparator,
        "label": other["name"],
        "k": None,
        "areas": [{"code": other["code"], "name": other["name"]}],
        "shares": shares.loc[target],
    }


def with_comparator(conn: Connection, profile: dict[str, Any], comparator: str, k: int) -> dict[str, Any]:
    """The profile with each segment's ``comparator_pct`` and ``comparator_index`` added."""
    segments = profile["segments"]
    district = profile.get("district") or {}
    if (
        comparator == "district"
        and district.get("code")
        and all("district_households" in s for s in segments)
    ):
        # the profile already holds the district's households per segment: no query
        d_total = sum(int(s["district_households"]) for s in segments)
        shares = pd.Series(
            {s["segment"]: (int(s["district_households"]) / d_total if d_total else 0.0) for s in segments}
        )
        comp = {
            "kind": "district",
            "label": district["code"],
            "k": None,
            "areas": [{"code": district["code"]}],
        }
        name = conn.execute(text("SELECT name FROM area WHERE code = :c"), {"c": district["code"]}).scalar()
        comp["label"] = name or district["code"]
        comp["areas"][0]["name"] = comp["label"]
    else:
        comp = spine_comparator(conn, profile["area"]["code"], profile["classification"], comparator, k)
        shares = comp.pop("shares")
    total = sum(int(s["households"]) for s in segments)
    out = []
    for s in segments:
        c = float(shares.get(s["segment"], 0.0))
        own = int(s["households"]) / total if total else float("nan")
        out.append(
            {
                **s,
                "comparator_pct": float(round_half_away(100 * c, 2)),
                "comparator_index": int(round_half_away(100 * own / c, 0)) if c > 0 and total else None,
            }
        )
    return {**profile, "segments": out, "comparator": comp}


def _names(conn: Connection, codes: list[str]) -> list[dict[str, Any]]:
    rows = conn.execute(text("SELECT code, name FROM area WHERE code = ANY(:c)"), {"c": codes}).mappings()
    return [dict(r) for r in rows]


_PROFILES: VersionedCache[dict[str, Any]] = register_for_staleness(VersionedCache(512))


def _profile_depends(conn: Connection, code: str) -> Depends:
    """A profile reads the events (every service) of its district and of the districts its
    neighbours lie in, and every geography.

    The districts are those whose bounding box meets the area's grown by 1 m: a superset of
    the districts of its touching neighbours (so never too few), answered from the GiST
    index alone in a millisecond or so.
    """
    districts = [
        r[0]
        for r in conn.execute(
            text(
                "SELECT d.code FROM area a JOIN area d ON d.level = 'district' "
                "AND d.geom && ST_Expand(a.geom, 1) WHERE a.code = :c"
            ),
            {"c": code},
        )
    ]
    if not districts:
        return EVERYTHING
    return Depends(districts=(*sorted(districts), ""))


def _area_profile(conn: Connection, code: str, classification: str | None) -> dict[str, Any]:
    area = check_area(conn, code)
    classification = classification or default_classification(conn)
    check_classification(conn, classification)
    district = area["district_code"] or (area["code"] if area["level"] == "district" else None)
    geography = _geography_of(area)
    services = (
        conn.execute(text("SELECT code, name, category, unit FROM service ORDER BY code")).mappings().all()
    )
    neighbours = contiguity.touching_areas(conn, code)
    parent = check_area(conn, area["parent_code"]) if area["parent_code"] else None

    # No `within` filters: whole levels are cheaper to count than a correlated filter on
    # every event, and the district's rows are picked out here.
    by_district = households_by_area_segment(conn, Geography("district"), classification)
    district_hh = _pick(by_district, district)
    level_hh = households_by_area_segment(conn, geography, classification)
    parent_is_district = parent is not None and parent["level"] == "district"
    parent_hh = None
    if parent is not None:
        parent_hh = (
            by_district
            if parent_is_district
            else households_by_area_segment(conn, _geography_of(parent), classification)
        )
    area_hh = level_hh[level_hh["area_code"] == code]
    if area_hh.empty:
        # An area outside its district's OAs (a custom area straddling districts): use its own OAs.
        area_hh = households_by_area_segment(conn, geography, classification, within=code)
        area_hh = area_hh[area_hh["area_code"] == code]

    segments = _segment_mix(conn, classification, area_hh, district_hh)
    similar = _similar(conn, code, level_hh, area_hh)
    service_rows: list[dict[str, Any]] = []
    comparisons: dict[str, dict[str, dict[str, Any]]] = {}
    for svc in services:
        unit = natural_unit(conn, svc["code"])
        d_all = service_counts_by_area_segment(
            conn, svc["code"], Geography("district"), classification, unit=unit
        )
        d_t = _pick(d_all, district)
        l_t = service_counts_by_area_segment(conn, svc["code"], geography, classification, unit=unit)
        rates = _district_rates(district_hh, d_t)
        level_up = take_up(level_hh, l_t, rates).set_index("area_code")
        d_households = int(district_hh.dropna(subset=["segment_code"])["households"].sum())
        d_observed = int(d_t.dropna(subset=["segment_code"])["target"].sum())
        d_rate = d_observed / d_households if d_households else float("nan")
        row = level_up.loc[code].to_dict() if code in level_up.index else {}
        observed = int(row.get("observed", 0))
        n = int(row.get("households", 0))
        raw_low, raw_high = poisson_ratio_interval(observed, n * d_rate)
        service_rows.append(
            {
                "service": svc["code"],
                "name": svc["name"],
                "category": svc["category"],
                "unit": unit,
                **{
                    k: row.get(k)
                    for k in ("observed", "expected", "ratio", "ci_low", "ci_high", "significant")
                },
                "rate_per_1000": row.get("rate_per_1000"),
                "district_rate_per_1000": float(round_ratio_half_away(1000 * d_observed, d_households, 2))
                if d_households
                else None,
                "district_index": float(round_half_away(100 * observed / (n * d_rate), 0))
                if n and d_rate
                else None,
                "district_significant": bool(raw_low > 100 or raw_high < 100) if n and d_rate else None,
            }
        )
        for other in [*neighbours, *similar]:
            if other["code"] in level_up.index:
                comparisons.setdefault(other["code"], {})[svc["code"]] = _brief(level_up.loc[other["code"]])
        if parent and parent_hh is not None:
            p_t = (
                d_all
                if parent_is_district
                else service_counts_by_area_segment(
                    conn, svc["code"], _geography_of(parent), classification, unit=unit
                )
            )
            p_up = take_up(parent_hh, p_t, rates).set_index("area_code")
            if parent["code"] in p_up.index:
                comparisons.setdefault(parent["code"], {})[svc["code"]] = _brief(p_up.loc[parent["code"]])

    channels = _channel_mix(conn, classification, code, district)
    key_issues = [
        {
            k: s[k]
            for k in (
                "service",
                "name",
                "category",
                "rate_per_1000",
                "district_rate_per_1000",
                "district_index",
            )
        }
        for s in sorted(service_rows, key=lambda s: -(s["district_index"] or 0))
        if s["district_index"] is not None
        and s["district_index"] >= KEY_ISSUE_INDEX
        and s["district_significant"]
    ]
    over = [s for s in segments if (s["index"] or 0) > 100]
    segment_issues = [
        {"segment": s["segment"], "name": s["name"], "index": s["index"], "key_issues": s["key_issues"]}
        for s in sorted(over, key=lambda s: -s["index"])[:3]
    ]
    profile = {
        "area": area,
        "classification": classification,
        "district": {"code": district, "households": int(district_hh["households"].sum())},
        "segments": segments,
        "services": service_rows,
        "channels": channels,
        "key_issues": key_issues,
        "segment_issues": segment_issues,
        "neighbours": [{**n, "services": comparisons.get(n["code"], {})} for n in neighbours],
        "parent": {**parent, "services": comparisons.get(parent["code"], {})} if parent else None,
        "similar": [{**m, "services": comparisons.get(m["code"], {})} for m in similar],
    }
    profile["pen_portrait"] = pen_portrait(profile)
    return profile


def _similar(
    conn: Connection, code: str, level_hh: pd.DataFrame, area_hh: pd.DataFrame, k: int = SIMILAR_AREAS
) -> list[dict[str, Any]]:
    """The ``k`` same-level areas closest in segment mix (Hellinger distance, ``geo.analysis.similar``)."""
    shares = segment_shares(pd.concat([level_hh[level_hh["area_code"] != code], area_hh], ignore_index=True))
    if code not in shares.index or len(shares) < 2:
        return []
    best = most_similar(shares, code, k, "hellinger")
    rows = conn.execute(
        text("SELECT code, name, level, households FROM area WHERE code = ANY(:codes)"),
        {"codes": best["area_code"].tolist()},
    ).mappings()
    info = {r["code"]: dict(r) for r in rows}
    return [
        {**info[c], "distance": float(round_half_away(d, 4))}
        for c, d in zip(best["area_code"], best["distance"], strict=True)
        if c in info
    ]


def _pick(frame: pd.DataFrame, district: str | None) -> pd.DataFrame:
    """The rows of one district (all rows when the area has none)."""
    return frame[frame["area_code"] == district] if district else frame


def _brief(row: pd.Series) -> dict[str, Any]:
    return {
        "observed": int(row["observed"]),
        "expected": float(row["expected"]),
        "ratio": None if pd.isna(row["ratio"]) else float(row["ratio"]),
        "rate_per_1000": None if pd.isna(row["rate_per_1000"]) else float(row["rate_per_1000"]),
    }


def _segment_mix(
    conn: Connection, classification: str, area_hh: pd.DataFrame, district_hh: pd.DataFrame
) -> list[dict[str, Any]]:
    meta = conn.execute(
        text(
            "SELECT code, name, colour, key_issues FROM segment WHERE classification_code = :c "
            "ORDER BY sort_order, code"
        ),
        {"c": classification},
    ).mappings()
    frame = pd.DataFrame([dict(m) for m in meta])
    a = area_hh.dropna(subset=["segment_code"]).groupby("segment_code")["households"].sum()
    d = district_hh.dropna(subset=["segment_code"]).groupby("segment_code")["households"].sum()
    frame["households"] = frame["code"].map(a).fillna(0).astype("int64")
    frame["district_households"] = frame["code"].map(d).fillna(0).astype("int64")
    big_a, big_d = int(frame["households"].sum()), int(frame["district_households"].sum())
    h = frame["households"].to_numpy(dtype=object)
    dh = frame["district_households"].to_numpy(dtype=object)
    frame["pct"] = round_ratio_half_away(100 * h, big_a, 2)
    frame["district_pct"] = round_ratio_half_away(100 * dh, big_d, 2)
    frame["index"] = round_ratio_half_away(100 * h * big_d, dh * big_a, 0)
    frame["index"] = frame["index"].astype("Int64")
    frame = frame.rename(columns={"code": "segment"})
    records = table_records(frame)
    for r in records:
        r["key_issues"] = list(r["key_issues"] or [])
    return records


def _channel_mix(
    conn: Connection, classification: str, code: str, district: str | None
) -> list[dict[str, Any]]:
    area_ev = channel_events(conn, classification, Geography("district"), within=code)
    district_ev = channel_events(conn, classification, Geography("district"), within=district)
    a = area_ev.groupby("channel")["events"].sum()
    d = district_ev.groupby("channel")["events"].sum()
    frame = pd.DataFrame({"events": a, "district_events": d}).fillna(0).astype("int64")
    frame = frame.rename_axis("channel").reset_index()
    e = frame["events"].to_numpy(dtype=object)
    de = frame["district_events"].to_numpy(dtype=object)
    big_a, big_d = int(frame["events"].sum()), int(frame["district_events"].sum())
    frame["share_pct"] = round_ratio_half_away(100 * e, big_a, 2)
    frame["district_share_pct"] = round_ratio_half_away(100 * de, big_d, 2)
    frame["index"] = pd.array(round_ratio_half_away(100 * e * big_d, de * big_a, 0), dtype="Int64")
    return table_records(frame.sort_values(["events", "channel"], ascending=[False, True]))


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def pen_portrait(profile: dict[str, Any]) -> str:
    """A short pen portrait of the area written from the profile's own figures."""
    area = profile["area"]
    parent = profile.get("parent")
    where = f" in {parent['name']}" if parent else ""
    level = LEVEL_NAMES.get(area["level"], area["level"])
    article = "an" if level[0] in "aeiou" else "a"
    label = area["name"] if area["name"] == area["code"] else f"{area['name']} ({area['code']})"
    lines = [f"{label} is {article} {level} of {area['households']:,} households{where}."]
    top = sorted(profile["segments"], key=lambda s: -s["households"])[:2]
    if top and top[0]["households"]:
        parts = [
            f"{s['name']} ({s['pct']:.0f}% of households, index {s['index']})" for s in top if s["households"]
        ]
        lines.append(f"Its largest segments are {_join(parts)}.")
    over = [s for s in profile["services"] if s["significant"] and (s["ratio"] or 0) > 100]
    under = [s for s in profile["services"] if s["significant"] and (s["ratio"] or 0) < 100]
    if over:
        parts = [
            f"{s['name'].lower()} ({s['ratio']:.0f})" for s in sorted(over, key=lambda s: -s["ratio"])[:3]
        ]
        lines.append(f"It uses {_join(parts)} more than its mix of households predicts (100 = as predicted).")
    if under:
        parts = [
            f"{s['name'].lower()} ({s['ratio']:.0f})" for s in sorted(under, key=lambda s: s["ratio"])[:3]
        ]
        lines.append(f"It uses {_join(parts)} less than predicted.")
    if not over and not under:
        lines.append("Its use of services is in line with what its mix of households predicts.")
    channels = [c for c in profile["channels"] if c["events"]][:2]
    if channels:
        parts = [f"{c['channel'].replace('_', ' ')} ({c['share_pct']:.0f}%)" for c in channels]
        lines.append(f"Most contacts come by {_join(parts)}.")
    if profile["key_issues"]:
        parts = [
            f"{k['name'].lower()} ({k['rate_per_1000']:.0f} per 1,000 households against "
            f"{k['district_rate_per_1000']:.0f} across the district)"
            for k in profile["key_issues"][:2]
        ]
        lines.append(f"Key issues: {_join(parts)}.")
    return " ".join(lines)
