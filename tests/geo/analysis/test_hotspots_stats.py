"""Exact Poisson statistics, FDR control and classes of geo.analysis.hotspots (pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geo.analysis.hotspots import (
    benjamini_hochberg,
    classify,
    exact_poisson_interval,
    expected_counts,
    funnel_limits,
    hot_spot_table,
    hot_spots,
    poisson_p_value,
    segment_rates,
)
from geo.errors import InvalidRequest


def test_garwood_interval_matches_chi_square_form_and_known_values():
    o = np.array([0, 1, 5, 20, 100])
    low, high = exact_poisson_interval(o, 0.05)
    # The chi-square form of Garwood (1936).
    np.testing.assert_allclose(low[1:], stats.chi2.ppf(0.025, 2 * o[1:]) / 2, rtol=1e-12)
    np.testing.assert_allclose(high, stats.chi2.ppf(0.975, 2 * o + 2) / 2, rtol=1e-12)
    assert low[0] == 0
    # Published table values (Ulm 1990): O=0 -> (0, 3.689), O=5 -> (1.623, 11.668).
    assert high[0] == pytest.approx(3.689, abs=1e-3)
    assert (low[2], high[2]) == (pytest.approx(1.6235, abs=1e-3), pytest.approx(11.668, abs=1e-3))


def test_p_value_is_consistent_with_interval():
    # The interval for O excludes E exactly when p < alpha (the test the interval inverts).
    rng = np.random.default_rng(5)
    e = rng.uniform(0.5, 60, 5000)
    o = rng.poisson(e * rng.choice([0.5, 1, 1.8], 5000))
    low, high = exact_poisson_interval(o, 0.05)
    p = poisson_p_value(o, e)
    excluded = (e < low) | (e > high)
    assert np.array_equal(excluded, p < 0.05)


def test_p_value_edge_cases():
    assert poisson_p_value(0, 0) == 1.0
    assert poisson_p_value(3, 0) == 0.0
    assert poisson_p_value(10, 10) == 1.0
    # P(X >= 20 | 10) doubled.
    assert poisson_p_value(20, 10) == pytest.approx(2 * stats.poisson.sf(19, 10))


def test_benjamini_hochberg_matches_definition_and_handles_nan():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan, 0.5])
    q = benjamini_hochberg(p)
    # m = 5 valid tests; sorted 0.005, 0.01, 0.03, 0.04, 0.5 -> 0.025, 0.025, 0.05, 0.05, 0.5
    np.testing.assert_allclose(q[[3, 0, 2, 1, 5]], [0.025, 0.025, 0.05, 0.05, 0.5])
    assert np.isnan(q[4])
    # Row-wise along the last axis.
    q2 = benjamini_hochberg(np.vstack([p, p]))
    np.testing.assert_allclose(q2[0], q, equal_nan=True)


def test_funnel_limits_bracket_the_poisson_quantiles():
    e = np.array([2.0, 10.0, 50.0, 500.0])
    for level in (0.95, 0.998):
        low, high = funnel_limits(e, level)
        tail = (1 - level) / 2
        assert np.all(low <= 1) and np.all(high >= 1)
        # The interpolated limit lies within one count of the exact quantile.
        assert np.all(np.abs(high * e - stats.poisson.ppf(1 - tail, e)) <= 1)
        assert np.all(np.abs(low * e - stats.poisson.ppf(tail, e)) <= 1)
    lo95, hi95 = funnel_limits(e, 0.95)
    lo998, hi998 = funnel_limits(e, 0.998)
    assert np.all(lo998 <= lo95) and np.all(hi998 >= hi95)
    # The funnel narrows as the expected count grows.
    assert np.all(np.diff(hi95) < 0) and np.all(np.diff(lo95) > 0)


def test_expected_counts_is_households_times_rates():
    households = pd.DataFrame(
        {
            "area_code": ["a", "a", "b", "b", "b"],
            "segment_code": ["X", "Y", "X", "Y", None],
            "households": [10, 30, 20, 0, 10],
        }
    )
    counts = pd.DataFrame(
        {"area_code": ["a", "a", "b"], "segment_code": ["X", "Y", "X"], "target": [5, 3, 10]}
    )
    rates = segment_rates(households, counts)
    assert rates.to_dict() == pytest.approx({"X": 0.5, "Y": 0.1})
    e = expected_counts(households, rates)
    # Unclassified households get the household-weighted mean rate (18/60 = 0.3).
    assert e.to_dict() == pytest.approx({"a": 10 * 0.5 + 30 * 0.1, "b": 20 * 0.5 + 10 * 0.3})


def test_internal_standardisation_sums_expected_to_observed():
    rng = np.random.default_rng(1)
    n = 50
    hh = pd.DataFrame(
        {
            "area_code": np.repeat([f"a{i:02d}" for i in range(n)], 3),
            "segment_code": np.tile(["X", "Y", None], n),
            "households": rng.integers(5, 60, 3 * n),
        }
    )
    counts = hh.rename(columns={"households": "target"}).assign(target=rng.poisson(hh["households"] * 0.2))
    frame = hot_spots(hh, counts)
    assert frame["expected"].sum() == pytest.approx(frame["observed"].sum())
    assert set(frame["class"]) <= {"hot", "not", "as_expected"}
    # An external profile is not rescaled.
    external = hot_spots(hh, counts, rates={"X": 1.0, "Y": 1.0})
    assert external.attrs["scale"] == 1.0
    assert (external["class"] == "not").mean() > 0.9


def test_null_data_flags_no_more_than_the_nominal_rate():
    # 2,000 replicates of 320 areas with expected counts like the test borough's OAs
    # (0.5 to 40), counts drawn from the null (ratio 1 everywhere), in one call.
    rng = np.random.default_rng(20261123)
    expected = rng.gamma(2.0, 6.0, 320) + 0.5
    observed = rng.poisson(expected, size=(2000, 320))
    q = benjamini_hochberg(poisson_p_value(observed, expected))
    flagged = classify(observed - expected, q, 0.05) != "as_expected"
    # Under the global null, BH's FDR equals the chance of any flag: <= 0.05 (plus
    # simulation error: 3 standard errors of a proportion from 2,000 replicates).
    any_flag = flagged.any(axis=1).mean()
    assert any_flag <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 2000)
    # Per area the false flag rate is far below the nominal 5 %.
    assert flagged.mean() <= 0.05
    # Uncorrected per-area tests hold their level too (exact test: conservative).
    assert (poisson_p_value(observed, expected) < 0.05).mean() <= 0.05


def test_planted_clusters_in_simulated_data_are_recovered():
    rng = np.random.default_rng(7)
    expected = rng.gamma(3.0, 6.0, 320) + 15
    multiple = np.ones(320)
    multiple[:20] = 2.5
    multiple[20:40] = 0.3
    observed = rng.poisson(expected * multiple)
    table = hot_spot_table(observed, expected, fdr=0.05)
    hot = table["class"].to_numpy() == "hot"
    cold = table["class"].to_numpy() == "not"
    assert hot[:20].mean() >= 0.9 and cold[20:40].mean() >= 0.9
    assert (hot[40:] | cold[40:]).sum() <= 3


def test_bad_arguments_name_the_field():
    with pytest.raises(InvalidRequest, match="`fdr`"):
        classify([1.0], [0.01], 1.5)
    with pytest.raises(InvalidRequest, match="`rates`"):
        expected_counts(
            pd.DataFrame({"area_code": ["a"], "segment_code": ["X"], "households": [1]}), {"X": -1}
        )
