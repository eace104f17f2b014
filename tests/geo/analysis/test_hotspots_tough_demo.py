"""The demo's tougher planted truth (issue 13): trends, an under-served segment, an
overdispersed null, and weak / small clusters beside strong ones.

Every check compares an analysis with what the generator planted (``truth['tough_services']``)
or with a count recomputed here from the raw rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mstats
from sqlalchemy import text

from geo.analysis.hotspot_queries import SpatialOptions, hotspot_frame, reach_frame, trend_frame
from geo.areas import Geography

OA = Geography("oa")
POOLED = (
    "asb_reports",
    "bus_pass",
    "library_membership",
    "council_tax_payment",
    "housing_benefit",
    "free_school_meals",
    "fire_hsv",
    "social_care",
)


def _spec(truth: dict[str, Any], service: str) -> dict[str, Any]:
    return truth["services"].get(service) or truth["tough_services"][service]


def _planted(truth: dict[str, Any], service: str, kind: str, strength: str | None = None) -> set[str]:
    """OAs planted as ``kind``; ``strength='detectable'`` keeps the clusters designed to be found."""
    out: set[str] = set()
    for cluster in _spec(truth, service)[kind]:
        if strength == "detectable" and not cluster.get("detectable", True):
            continue
        if strength not in (None, "detectable") and cluster.get("strength", "strong") != strength:
            continue
        out |= set(cluster["oa_codes"])
    return out


def _queen_neighbours(conn, codes: set[str]) -> set[str]:
    rows = conn.execute(
        text(
            "SELECT DISTINCT b.code FROM area a JOIN area b ON b.level = 'oa' AND b.code <> a.code "
            "AND ST_Intersects(a.geom, b.geom) WHERE a.level = 'oa' AND a.code = ANY(:codes)"
        ),
        {"codes": sorted(codes)},
    ).scalars()
    return set(rows)


def test_the_tough_services_are_in_the_truth_and_the_catalogue(conn, truth):
    tough = truth["tough_services"]
    assert set(tough) == {"fly_tipping", "social_care", "pest_control"}
    listed = set(conn.execute(text("SELECT code FROM service")).scalars())
    assert set(tough) <= listed
    counted = dict(
        conn.execute(
            text("SELECT service_code, count(*) FROM service_event WHERE service_code = ANY(:s) GROUP BY 1"),
            {"s": sorted(tough)},
        ).all()
    )
    assert counted == {s: t["events"] for s, t in tough.items()}
    care = tough["social_care"]
    strengths = {c["strength"] for k in ("hot", "not") for c in care[k]}
    assert strengths == {"strong", "weak", "small"}
    assert all(1.3 <= c["multiple"] <= 1.5 for c in care["hot"] if c["strength"] == "weak")
    assert all(len(c["oa_codes"]) <= 2 for c in care["hot"] if c["strength"] == "small")


def test_emerging_and_fading_clusters_are_named_as_esri_names_them(conn, truth):
    spec = truth["tough_services"]["pest_control"]
    frame = trend_frame(
        conn, "pest_control", OA, slice="quarter", date_from=dt.date(2025, 1, 1), date_to=dt.date(2026, 9, 30)
    ).set_index("area_code")
    assert frame.attrs["meta"]["slices"] == [
        "2025Q1",
        "2025Q2",
        "2025Q3",
        "2025Q4",
        "2026Q1",
        "2026Q2",
        "2026Q3",
    ]
    emerging = set(spec["emerging"][0]["oa_codes"])
    fading = set(spec["fading"][0]["oa_codes"])
    # The planted months: the emerging group x5 from April 2026 (quarters 2026Q2-Q3), the
    # fading one x5 until June 2026 (every quarter but 2026Q3); recomputed from raw events.
    rows = pd.DataFrame(
        conn.execute(
            text(
                "SELECT oa_code, date_trunc('quarter', event_date)::date AS q, count(*) AS n "
                "FROM service_event WHERE service_code = 'pest_control' "
                "AND event_date >= '2025-01-01' AND event_date < '2026-10-01' GROUP BY 1, 2"
            )
        ).all(),
        columns=["oa_code", "q", "n"],
    )
    rows["group"] = np.where(
        rows["oa_code"].isin(emerging), "emerging", np.where(rows["oa_code"].isin(fading), "fading", "rest")
    )
    share = rows.pivot_table(index="q", columns="group", values="n", aggfunc="sum")
    per_oa = share / pd.Series({"emerging": len(emerging), "fading": len(fading), "rest": 1})
    rel = per_oa[["emerging", "fading"]].div(
        share["rest"] / (frame.shape[0] - len(emerging) - len(fading)), axis=0
    )
    assert (rel["emerging"].iloc[:4] < 2).all() and (rel["emerging"].iloc[-2:] > 3).all(), rel
    assert (rel["fading"].iloc[:-1] > 3).all() and rel["fading"].iloc[-1] < 2, rel

    new_or_consecutive = frame["category"].isin(["consecutive_hot_spot", "new_hot_spot"])
    historical = frame["category"] == "historical_hot_spot"
    # Measured on the 40,000-household test borough: 23 of 26 and 22 of 26 planted OAs.
    got_emerging = new_or_consecutive[sorted(emerging)].mean()
    got_fading = historical[sorted(fading)].mean()
    print(f"emerging named new/consecutive: {got_emerging:.2f}; fading named historical: {got_fading:.2f}")
    assert got_emerging >= 2 / 3 and got_fading >= 2 / 3
    assert (
        frame.loc[sorted(emerging), "category"].str.startswith(("consecutive", "new", "no_pattern"))
    ).all()
    # Outside a planted group, a label reaches only the group's queen neighbours (Gi* pools a
    # neighbourhood, so the edge of a cluster leaks one area out), never further.
    assert set(frame.index[new_or_consecutive]) <= emerging | _queen_neighbours(conn, emerging)
    assert set(frame.index[historical]) <= fading | _queen_neighbours(conn, fading)
    others = frame.drop(index=sorted(emerging | fading))
    assert not others["category"].str.startswith(("intensifying", "persistent", "diminishing")).any()


def test_the_under_served_segment_is_least_reached_against_its_need(conn, truth):
    spec = truth["tough_services"]["social_care"]
    need = spec["need_rates"]
    target = spec["under_served"]["segment_code"]
    frame = reach_frame(
        conn, "social_care", reference="rates:" + ",".join(f"{k}={v}" for k, v in need.items())
    )
    first = frame.iloc[0]
    assert first["segment_code"] == target and first["class"] == "under_served"
    assert (frame.loc[frame["segment_code"] != target, "class"] != "under_served").all()
    # Recomputed with pandas from the raw rows: events by the household's segment, households
    # per segment, ratio = observed / (households x need).
    classification = frame.attrs["meta"]["classification"]
    hs = pd.DataFrame(
        conn.execute(
            text("SELECT uprn, segment_code FROM household_segment WHERE classification_code = :c"),
            {"c": classification},
        ).all(),
        columns=["uprn", "segment_code"],
    )
    ev = pd.DataFrame(
        conn.execute(text("SELECT uprn FROM service_event WHERE service_code = 'social_care'")).all(),
        columns=["uprn"],
    )
    observed = ev.merge(hs, on="uprn")["segment_code"].value_counts()
    households = hs["segment_code"].value_counts()
    ratio = observed / (households * pd.Series(need))
    got = frame.set_index("segment_code")
    assert got["observed"].to_dict() == pytest.approx(observed.reindex(got.index).astype(float).to_dict())
    assert got["ratio"].to_dict() == pytest.approx(ratio.reindex(got.index).to_dict(), rel=1e-9)
    # Planted at half its need: the interval of the ratio holds about 0.5 (the segment's share
    # of the planted hot and not spots moves it a little; measured 0.55 at 40,000 households).
    assert 0.4 <= first["ratio"] <= 0.7 and first["ratio_high"] < 0.8


def test_null_overdispersed_demo_service_flags_at_the_nominal_rate_only_with_dispersion_on(conn, truth):
    spec = truth["tough_services"]["fly_tipping"]
    assert spec["hot"] == [] and spec["not"] == []  # every flag is a false alarm
    rates = {}
    for mode in ("none", "additive", "negbin", "auto"):
        frame = hotspot_frame(conn, "fly_tipping", OA, dispersion=mode)
        frame = frame[frame["expected"] > 0]
        rates[mode] = (frame["p_value"] < 0.05).mean()
        rates[mode + "_flagged"] = (frame["class"] != "as_expected").mean()
        meta = frame.attrs["meta"]["dispersion"]
        if mode == "none":
            # Spiegelhalter's phi by hand: winsorised z-scores around the study's own level.
            z = (frame["observed"] - frame["expected"]) / np.sqrt(frame["expected"])
            phi = float((np.asarray(mstats.winsorize(z.to_numpy(), limits=(0.1, 0.1))) ** 2).mean())
            assert meta["phi"] == pytest.approx(phi, rel=1e-9) and phi > 2
        else:
            assert meta["applied"] in ("additive", "negbin")
    n = len(frame)
    band = 3 * np.sqrt(0.05 * 0.95 / n)
    print(f"fly_tipping ({n} OAs): {rates}")
    assert abs(rates["additive"] - 0.05) < band, rates
    assert abs(rates["negbin"] - 0.05) < band, rates
    assert rates["none"] > 0.15 and rates["none_flagged"] > 0.1, rates
    assert rates["auto_flagged"] <= 0.01, rates


@pytest.fixture(scope="module")
def pooled_frames(engine) -> dict[str, dict[str, pd.DataFrame]]:
    with engine.connect() as conn:
        return {
            "scan": {
                s: hotspot_frame(conn, s, OA, method="scan", options=SpatialOptions(permutations=199, seed=5))
                for s in POOLED
            },
            "scan_adjacency": {
                s: hotspot_frame(
                    conn,
                    s,
                    OA,
                    method="scan",
                    options=SpatialOptions(permutations=199, seed=5, window="adjacency"),
                )
                for s in POOLED
            },
            "ratio": {s: hotspot_frame(conn, s, OA) for s in POOLED},
        }


def _score(frames: dict[str, pd.DataFrame], truth: dict[str, Any]) -> dict[str, float]:
    tp = flagged = found_detectable = detectable = 0
    by_strength: dict[str, list[int]] = {"weak": [0, 0], "small": [0, 0]}
    for service, frame in frames.items():
        for kind in ("hot", "not"):
            found = set(frame.loc[frame["class"] == kind, "area_code"])
            every = _planted(truth, service, kind)
            sure = _planted(truth, service, kind, "detectable")
            tp += len(found & every)
            flagged += len(found)
            found_detectable += len(found & sure)
            detectable += len(sure)
            for strength, tally in by_strength.items():
                s = _planted(truth, service, kind, strength) if service == "social_care" else set()
                tally[0] += len(found & s)
                tally[1] += len(s)
    return {
        "precision": tp / max(flagged, 1),
        "recall": found_detectable / detectable,
        "weak_recall": by_strength["weak"][0] / by_strength["weak"][1],
        "small_recall": by_strength["small"][0] / by_strength["small"][1],
    }


def test_the_best_method_finds_the_detectable_clusters_of_the_tougher_demo(pooled_frames, truth):
    scores = {m: _score(f, truth) for m, f in pooled_frames.items()}
    print({m: {k: round(v, 3) for k, v in s.items()} for m, s in scores.items()})
    best = max(scores.values(), key=lambda s: s["precision"] + s["recall"])
    assert best["precision"] >= 0.95 and best["recall"] >= 0.95, scores
    # Weak (x1.3-1.5) clusters are not designed to be found at these counts: no claim on
    # their recall, but every flag there is a true one (counted in the precision above).
    assert 0 <= scores["scan"]["weak_recall"] < 1


def test_adjacency_scan_clusters_are_connected_area_sets_with_their_own_counts(conn, pooled_frames):
    frame = pooled_frames["scan_adjacency"]["social_care"]
    meta = frame.attrs["meta"]
    assert meta["window"] == "adjacency" and meta["max_size"] == 10 and "Tango" in meta["statistic"]
    by_code = frame.set_index("area_code")
    total = frame["observed"].sum()
    assert meta["clusters"]
    for c in meta["clusters"]:
        areas = set(c["areas"])
        assert 1 <= len(areas) <= 10 and c["centre"] in areas
        # Connected under queen contiguity, checked by a walk over PostGIS's ST_Intersects.
        pairs = conn.execute(
            text(
                "SELECT a.code, b.code FROM area a JOIN area b ON b.code = ANY(:codes) AND b.code <> a.code "
                "AND ST_Intersects(a.geom, b.geom) WHERE a.code = ANY(:codes)"
            ),
            {"codes": sorted(areas)},
        ).all()
        reached, todo = {c["centre"]}, [c["centre"]]
        while todo:
            here = todo.pop()
            for a, b in pairs:
                if a == here and b not in reached:
                    reached.add(b)
                    todo.append(b)
        assert reached == areas, c
        o = by_code.loc[sorted(areas), "observed"].sum()
        e = by_code.loc[sorted(areas), "expected"].sum() * total / frame["expected"].sum()
        llr = (
            o * np.log(o / e) + (total - o) * np.log((total - o) / (total - e))
            if o > 0
            else (total) * np.log(total / (total - e))
        )
        assert c["llr"] == pytest.approx(llr, rel=1e-9)
