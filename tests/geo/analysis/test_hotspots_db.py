"""Hot spots, demand, targeting and evaluation against the demo borough in PostGIS."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo.analysis.data import households_by_area_segment
from geo.analysis.hotspot_queries import (
    H3Grid,
    SpatialOptions,
    area_weights,
    demand_frame,
    evaluate_intervention,
    hotspot_frame,
    predict_demand,
    profile_from_area,
    targeting,
)
from geo.analysis.hotspots import benjamini_hochberg, classify, poisson_p_value
from geo.analysis.spatial import gi_star
from geo.areas import Geography
from geo.errors import InvalidRequest, UnknownService

OA = Geography("oa")


def _planted(truth: dict[str, Any], service: str, kind: str) -> set[str]:
    return {code for cluster in truth["services"][service][kind] for code in cluster["oa_codes"]}


@pytest.fixture(scope="module")
def ratio_frames(engine, truth) -> dict[str, pd.DataFrame]:
    # The demo draws counts from a Poisson model, so the exact Poisson test is the right
    # model here. The default (`auto`) reads the planted clusters, 12 % of this small
    # borough's OAs and more than the 10 % winsorised, as overdispersion in some services
    # and tests more conservatively: tests/geo/analysis/test_hotspots_scan_db.py.
    with engine.connect() as conn:
        return {
            service: hotspot_frame(conn, service, OA, fdr=0.05, dispersion="none")
            for service in truth["services"]
        }


def test_ratio_method_recovers_planted_hot_and_not_spots(ratio_frames, truth):
    # Precision and recall at output-area level over every planted cluster of every
    # service (hot and not spots pooled), at FDR 5 %: both at least 0.9.
    tp = flagged = planted = 0
    for service, frame in ratio_frames.items():
        for kind in ("hot", "not"):
            truth_set = _planted(truth, service, kind)
            found = set(frame.loc[frame["class"] == kind, "area_code"])
            tp += len(truth_set & found)
            flagged += len(found)
            planted += len(truth_set)
    assert planted > 100
    assert tp / flagged >= 0.9, f"precision {tp / flagged:.3f}"
    assert tp / planted >= 0.9, f"recall {tp / planted:.3f}"


def test_no_planted_effect_flags_no_more_than_nominal(ratio_frames):
    # The demo's own expected counts, with counts simulated from them (no effect
    # anywhere): 1,000 replicates in one vectorised call.
    expected = ratio_frames["asb_reports"]["expected"].to_numpy()
    rng = np.random.default_rng(20261123)
    observed = rng.poisson(expected, size=(1000, len(expected)))
    q = benjamini_hochberg(poisson_p_value(observed, expected))
    flagged = classify(observed - expected, q, 0.05) != "as_expected"
    # BH under the global null: P(any flag) = FDR <= 5 % (+ 3 simulation SEs).
    assert flagged.any(axis=1).mean() <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 1000)
    assert flagged.mean() <= 0.05


def test_frame_columns_are_consistent(ratio_frames):
    frame = ratio_frames["asb_reports"]
    # Internal standardisation: the borough as a whole is as expected.
    assert frame["expected"].sum() == pytest.approx(frame["observed"].sum(), rel=1e-9)
    assert (frame["ci_low"] <= frame["ratio"]).all() and (frame["ratio"] <= frame["ci_high"]).all()
    assert (frame["funnel_998_low"] <= frame["funnel_95_low"]).all()
    assert (frame["unmet"] >= 0).all() and (frame["potential"] >= frame["observed"]).all()
    assert set(frame["class"]) <= {"hot", "not", "as_expected"}
    assert frame.attrs["meta"]["reference"] == {"kind": "study"}


def test_reference_profile_from_truth_rates_gives_ratio_near_one(conn, truth):
    # The planted rates as an uploaded profile: outside the clusters O/E is about 1.
    rates = truth["services"]["asb_reports"]["rates"]
    ref = "rates:" + ",".join(f"{k}={v}" for k, v in rates.items())
    frame = hotspot_frame(conn, "asb_reports", OA, reference=ref)
    planted = _planted(truth, "asb_reports", "hot") | _planted(truth, "asb_reports", "not")
    rest = frame[~frame["area_code"].isin(planted)]
    pooled = rest["observed"].sum() / rest["expected"].sum()
    assert pooled == pytest.approx(1.0, abs=0.05)
    assert frame.attrs["meta"]["scale"] == 1.0


def test_profile_learnt_in_the_district_matches_the_truth(conn, truth):
    rates = profile_from_area(conn, "asb_reports", "ZD000001", "wardwise12", unit="events")
    spec = truth["services"]["asb_reports"]
    # What the learnt rate should be: the planted rate times the household-weighted mean
    # of the planted multiples over the segment's households (clusters move it), with a
    # Poisson standard error; every segment within 4 standard errors.
    hh = households_by_area_segment(conn, OA, "wardwise12").dropna(subset=["segment_code"])
    multiple = {code: c["multiple"] for kind in ("hot", "not") for c in spec[kind] for code in c["oa_codes"]}
    hh = hh.assign(m=hh["area_code"].map(multiple).fillna(1.0), rate=hh["segment_code"].map(spec["rates"]))
    hh = hh.assign(mu=hh["households"] * hh["m"] * hh["rate"])
    by_seg = hh.groupby("segment_code")[["households", "mu"]].sum()
    expected = by_seg["mu"] / by_seg["households"]
    se = np.sqrt(by_seg["mu"]) / by_seg["households"]
    z = (rates.reindex(expected.index) - expected) / se
    assert (z.abs() <= 4).all(), z


def test_gistar_frame_matches_direct_statistic_and_states_weights(conn, truth):
    frame = hotspot_frame(conn, "council_tax_payment", OA, method="gistar")
    meta = frame.attrs["meta"]
    assert meta["transform"] == "B" and meta["weights"]["kind"] == "queen" and meta["variable"] == "ratio"
    assert meta["weights"]["islands"] == 0 and meta["weights"]["mean_neighbours"] > 3
    w = area_weights(conn, OA, frame["area_code"].tolist(), "queen")
    np.testing.assert_allclose(frame["z"], gi_star(frame["value"], w, "B").z, atol=1e-12)
    hot = _planted(truth, "council_tax_payment", "hot")
    # Gi* smooths over neighbours: most cells it calls hot are in or next to a planted cluster.
    flagged = frame.loc[frame["class"] == "hot", "area_code"]
    near = set(hot)
    for code in hot:
        near |= set(w.ids[w.matrix[list(w.ids).index(code)].indices])
    assert len(flagged) > 0 and flagged.isin(near).mean() >= 0.9


def test_queen_weights_are_symmetric_and_knn_has_k(conn):
    codes = conn.execute(text("SELECT code FROM area WHERE level = 'ward' ORDER BY code")).scalars().all()
    w = area_weights(conn, Geography("ward"), codes, "queen")
    assert (w.matrix != w.matrix.T).nnz == 0 and w.islands.size == 0
    knn = area_weights(conn, Geography("ward"), codes, "knn", k=4)
    assert (knn.cardinalities == 4).all()


def test_permutation_run_is_refused_inline_beyond_the_budget(conn):
    opts = SpatialOptions(permutations=99_999)
    with pytest.raises(InvalidRequest, match="job"):
        hotspot_frame(conn, "asb_reports", OA, method="gistar", options=opts, permutation_budget=2_000_000)


def test_h3_cells_conserve_households_and_use(conn, truth):
    grid = H3Grid(8)
    frame = hotspot_frame(conn, "asb_reports", grid)
    households = conn.execute(text("SELECT count(*) FROM address WHERE is_residential")).scalar_one()
    events = conn.execute(
        text("SELECT count(*) FROM service_event WHERE service_code = 'asb_reports' AND is_primary")
    ).scalar_one()
    assert frame["households"].sum() == households
    assert frame["observed"].sum() == events
    assert frame["area_code"].str.len().eq(15).all() and frame.attrs["meta"]["geography"] == "h3:8"
    assert (frame["class"] == "hot").any()


def test_unknown_service_is_named(conn):
    with pytest.raises(UnknownService, match="`service`"):
        hotspot_frame(conn, "no_such_service", OA)


def test_unmet_demand_is_largest_in_not_spots(conn, truth):
    # The planted not spots use the service at 0.2-0.4 of the expected rate, so their
    # households have the largest gap to the benchmark.
    frame = demand_frame(conn, "bus_pass", OA, percentile=80)
    cold = _planted(truth, "bus_pass", "not")
    per_1000 = frame.set_index("area_code")["unmet_per_1000"]
    assert per_1000[per_1000.index.isin(cold)].median() > 2 * per_1000[~per_1000.index.isin(cold)].median()
    assert frame.attrs["meta"]["percentile"] == 80
    # A higher benchmark never lowers anyone's unmet demand.
    higher = demand_frame(conn, "bus_pass", OA, percentile=95).set_index("area_code")["unmet"]
    assert (higher >= frame.set_index("area_code")["unmet"] - 1e-9).all()


def test_predicted_demand_with_the_true_profile_matches_use_outside_clusters(conn, truth):
    rates = truth["services"]["library_membership"]["rates"]
    pred = predict_demand(conn, rates, Geography("ward")).set_index("area_code")
    hh = pred["households"].sum()
    assert hh == conn.execute(text("SELECT count(*) FROM address WHERE is_residential")).scalar_one()
    assert (pred["coverage"] == 1.0).all()
    assert (pred["predicted_low"] <= pred["predicted"]).all() and (
        pred["predicted"] <= pred["predicted_high"]
    ).all()
    observed = truth["services"]["library_membership"]["events"]
    # Clusters shift the total a little; the profile reproduces the borough within 10 %.
    assert pred["predicted"].sum() == pytest.approx(observed, rel=0.10)


def test_targeting_lists_areas_with_segment_channels(conn):
    out = targeting(conn, "bus_pass", OA, ["B", "I"], top=10)
    assert len(out) == 10 and list(out["rank"]) == list(range(1, 11))
    assert out["unmet"].is_monotonic_decreasing
    portraits = dict(conn.execute(text("SELECT code, preferred_channels FROM segment")).all())
    for _, row in out.iterrows():
        assert set(row["channels"]) <= set(portraits["B"]) | set(portraits["I"])
        assert row["main_segment"] in ("B", "I")
    with pytest.raises(InvalidRequest, match="`segments`"):
        targeting(conn, "bus_pass", OA, ["ZZ"])


BEFORE = (dt.date(2024, 11, 1), dt.date(2025, 10, 31))
AFTER = (dt.date(2025, 11, 1), dt.date(2026, 10, 31))


def _treated(conn, truth, n=12) -> list[str]:
    planted = _planted(truth, "asb_reports", "hot") | _planted(truth, "asb_reports", "not")
    codes = conn.execute(text("SELECT code FROM area WHERE level = 'oa' ORDER BY code")).scalars().all()
    return [c for c in codes if c not in planted][::7][:n]


def test_evaluation_recovers_an_added_effect(conn, truth):
    treated = _treated(conn, truth)
    # The intervention: every after-period event in the treated areas happens twice.
    conn.execute(
        text(
            "INSERT INTO service_event (service_code, event_date, channel, source_system, match_level, uprn,"
            " household_key, oa_code, lsoa_code, ward_code, district_code, is_primary, geom)"
            " SELECT service_code, event_date, channel, source_system, match_level, uprn, household_key,"
            " oa_code, lsoa_code, ward_code, district_code, is_primary, geom FROM service_event"
            " WHERE service_code = 'asb_reports' AND is_primary AND oa_code = ANY(:t) AND event_date >= :a"
        ),
        {"t": treated, "a": AFTER[0]},
    )
    result = evaluate_intervention(conn, "asb_reports", OA, treated, before=BEFORE, after=AFTER)
    # The added effect is the treated areas' own after-period rate (per 1000 households
    # per year, both periods one year long); half of the after rate now observed.
    added = result["treated_after"] / 2
    assert result["ci_low"] <= added <= result["ci_high"]
    assert result["ci_low"] > 0 and result["p_value"] < 0.05
    assert len(result["control"]) == 3 * len(treated) and not set(result["control"]) & set(treated)


def test_evaluation_without_intervention_covers_zero(conn, truth):
    treated = _treated(conn, truth)
    result = evaluate_intervention(conn, "asb_reports", OA, treated, before=BEFORE, after=AFTER)
    assert result["ci_low"] <= 0 <= result["ci_high"]
    with pytest.raises(InvalidRequest, match="before"):
        evaluate_intervention(conn, "asb_reports", OA, treated, before=AFTER, after=BEFORE)
