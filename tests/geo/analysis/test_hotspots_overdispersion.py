"""Overdispersion (Spiegelhalter 2005): phi by hand, real Bristol ASB, and the null false-alarm rate."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats import mstats

from geo.analysis import overdispersion as od
from geo.analysis.hotspots import benjamini_hochberg, hot_spot_table, poisson_p_value
from geo.errors import InvalidRequest

REAL = (
    Path(
        os.environ.get("WARDWISE_REAL_DATA", Path(__file__).resolve().parents[4] / "shared" / "data" / "real")
    )
    / "bristol"
)


def _phi_by_hand(o: np.ndarray, e: np.ndarray) -> float:
    # Around the study's own level: expected scaled to the observed total.
    frame = pd.DataFrame({"o": o, "e": e * o.sum() / e.sum()})
    frame = frame[frame["e"] > 0]
    z = (frame["o"] - frame["e"]) / np.sqrt(frame["e"])
    zw = np.asarray(mstats.winsorize(z.to_numpy(), limits=(0.1, 0.1)))
    return float((zw**2).mean())


def test_phi_matches_scipy_winsorising_and_the_dersimonian_laird_formula():
    rng = np.random.default_rng(7)
    e = rng.gamma(2.0, 10.0, 313)
    e[:5] = 0.0  # areas without expectation are not tests
    o = rng.negative_binomial(5, 5 / (5 + np.maximum(e, 1e-9))).astype(float)
    o[:5] = 0
    phi = _phi_by_hand(o, e)
    es = e * o.sum() / e.sum()
    assert od.dispersion_factor(o, es) == pytest.approx(phi, rel=1e-12)
    # Consistency factor: E[z_w^2] for a standard normal, by numerical integration.
    q = stats.norm.isf(0.1)
    inner = stats.norm.expect(lambda x: x * x, lb=-q, ub=q)
    assert od.winsor_consistency(0.1) == pytest.approx(inner + 2 * 0.1 * q * q, rel=1e-9)
    s = od.summary(o, e, "auto")
    assert s["phi"] == pytest.approx(phi) and s["areas"] == 308
    # DerSimonian-Laird on the square-root scale, written out with plain Python sums.
    w = [x * o.sum() / e.sum() for x in e if x > 0]
    m = len(w)
    tau2 = (m * s["phi_corrected"] - (m - 1)) / (sum(w) - sum(x * x for x in w) / sum(w))
    assert s["tau2"] == pytest.approx(max(tau2, 0.0), rel=1e-12)
    assert s["applied"] == "negbin" and s["phi_corrected"] > 1
    # Adjusted z: (O/E - 1) / sqrt(1/E + tau2).
    z = od.adjusted_z(o, e, "additive", s["phi_corrected"], s["tau2"])
    i = 10
    assert z[i] == pytest.approx((o[i] / e[i] - 1) / np.sqrt(1 / e[i] + s["tau2"]))
    # Replicates along a leading axis give each replicate's own phi.
    both = od.dispersion_factor(np.stack([o, o[::-1]]), np.stack([es, es[::-1]]))
    assert both == pytest.approx([phi, _phi_by_hand(o[::-1], e[::-1])])


def test_poisson_data_is_left_alone_by_auto():
    rng = np.random.default_rng(11)
    e = rng.gamma(3.0, 8.0, 900)
    o = rng.poisson(e)
    table = hot_spot_table(o, e, dispersion="auto")
    d = table.attrs["dispersion"]
    # Spiegelhalter's winsorised phi is ~0.68 on Poisson data; corrected it is ~1.
    assert 0.55 < d["phi"] < 0.85 and 0.85 < d["phi_corrected"] < 1.15
    if d["applied"] == "none":
        assert np.allclose(table["p_value"], poisson_p_value(o, e))


def test_adjusted_funnel_and_p_values_agree():
    e = np.array([2.0, 10.0, 50.0, 400.0])
    phi, tau2 = 2.0, 0.01
    for mode in ("multiplicative", "additive"):
        lo, hi = od.adjusted_funnel(e, 0.95, mode, phi, tau2)
        # An area exactly on the limit has z = 1.96, i.e. p = 0.05 under the same model.
        for limit in (lo, hi):
            o = limit * e
            p = od.adjusted_p_value(o, e, mode, phi, tau2)
            ok = limit > 0
            assert np.allclose(p[ok], 0.05, atol=1e-9)
    # Negative binomial limits bracket the distribution's own quantiles (interpolated between them).
    lo_nb, hi_nb = od.adjusted_funnel(e, 0.95, "negbin", phi, tau2)
    size = 1 / tau2
    dist = stats.nbinom(size, size / (size + e))
    assert (hi_nb * e <= dist.ppf(0.975) + 1e-9).all() and (hi_nb * e >= dist.ppf(0.975) - 1 - 1e-9).all()
    assert (lo_nb * e <= dist.ppf(0.025) + 1e-9).all()
    # The additive model widens big areas' limits most; the multiplicative model by a constant.
    lo_a, hi_a = od.adjusted_funnel(e, 0.95, "additive", phi, tau2)
    _, hi_p = od.adjusted_funnel(e, 0.95, "multiplicative", 1.0, 0.0)
    assert (hi_a - hi_p)[-1] / (hi_p[-1] - 1) > (hi_a - hi_p)[0] / (hi_p[0] - 1)


def test_negbin_p_value_matches_scipy_nbinom():
    e = np.array([4.0, 30.0])
    o = np.array([12.0, 11.0])
    tau2 = 0.05
    size = 1 / tau2
    p = od.negbin_p_value(o, e, tau2)
    for i in range(2):
        dist = stats.nbinom(size, size / (size + e[i]))
        assert dist.mean() == pytest.approx(e[i]) and dist.var() == pytest.approx(e[i] + tau2 * e[i] ** 2)
        expected = min(1.0, 2 * min(dist.cdf(o[i]), dist.sf(o[i] - 1)))
        assert p[i] == pytest.approx(expected, rel=1e-10)
    assert np.allclose(od.negbin_p_value(o, e, 0.0), poisson_p_value(o, e))


def test_min_detectable_ratio_is_where_power_reaches_the_target():
    e = np.array([3.0, 20.0, 150.0])
    alpha = 0.001
    high, low = od.min_detectable_ratio(e, alpha, power=0.8)
    for i in range(3):
        # Brute force: the critical counts by walking the Poisson tails.
        c = 0
        while stats.poisson.sf(c - 1, e[i]) > alpha / 2:
            c += 1
        assert stats.poisson.sf(c - 1, high[i] * e[i]) == pytest.approx(0.8, abs=1e-9)
        c_low = -1
        while stats.poisson.cdf(c_low + 1, e[i]) <= alpha / 2:
            c_low += 1
        if c_low < 0:
            assert np.isnan(low[i])  # even zero events would not be significant
        else:
            assert stats.poisson.cdf(c_low, low[i] * e[i]) == pytest.approx(0.8, abs=1e-9)
    assert np.isnan(low[0]) and low[2] < 1 < high[2] < high[1] < high[0]


def test_null_overdispersed_data_flags_at_the_nominal_rate_only_with_the_option_on():
    # Demo-like expected counts; counts negative binomial with no area effect at all.
    rng = np.random.default_rng(20261201)
    e = rng.gamma(2.5, 8.0, 600)
    tau2_true = 0.08  # Var O = E + 0.08 E^2
    size = 1 / tau2_true
    reps = 300
    o = rng.negative_binomial(size, size / (size + e), size=(reps, len(e))).astype(float)
    phi = od.dispersion_factor(o, e) / od.winsor_consistency()
    tau2 = od.tau_squared(phi, e)
    rates = {}
    for mode in ("none", "additive", "negbin", "multiplicative"):
        p = poisson_p_value(o, e) if mode == "none" else od.adjusted_p_value(o, e, mode, phi, tau2)
        rates[mode] = (p < 0.05).mean()
        q = benjamini_hochberg(p)
        rates[mode + "_fdr_any"] = (q <= 0.05).any(axis=1).mean()
    # Per-area false-alarm rate at 5 %: nominal with the random-effects models, far above without.
    assert abs(rates["additive"] - 0.05) < 0.01, rates
    assert abs(rates["negbin"] - 0.05) < 0.01, rates
    assert abs(rates["multiplicative"] - 0.05) < 0.015, rates
    assert rates["none"] > 0.15, rates
    # With Benjamini-Hochberg over 600 areas the tails matter: the exact negative binomial
    # (what `auto` applies) keeps the chance of any false flag at the nominal 5 %; the
    # plain Poisson test raises a false alarm in every replicate, and the normal
    # approximations' tails are too light (documented in geo/analysis/overdispersion.py).
    assert rates["negbin_fdr_any"] <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps), rates
    assert rates["none_fdr_any"] > 0.9, rates
    assert rates["additive_fdr_any"] > rates["negbin_fdr_any"], rates
    # tau2 is recovered (the estimate is per replicate).
    assert np.median(tau2) == pytest.approx(tau2_true, rel=0.25)


def test_bad_dispersion_names_the_field():
    with pytest.raises(InvalidRequest, match="`dispersion`"):
        hot_spot_table([1, 2], [1.0, 2.0], dispersion="gamma")


# ---------------------------------------------------------------------------- real data

pytestmark_real = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the external real-data set is not present at {REAL} (see its README)"
)


@pytestmark_real
def test_bristol_asb_at_lsoa_is_overdispersed_and_fewer_areas_are_flagged():
    police = pd.read_csv(REAL / "police_uk_2023-01_bristol-street_SUBSET.csv", keep_default_na=False)
    asb = police[police["Crime type"] == "Anti-social behaviour"]
    profile = pd.read_csv(REAL / "oa_profile_oac2021_census2021_E06000023.csv")
    residents = profile.groupby("lsoa11cd")["usual_residents"].sum(min_count=1)
    residents = residents[residents > 0]
    observed = asb["LSOA code"].value_counts().reindex(residents.index, fill_value=0).astype(float)
    expected = residents / residents.sum() * observed.sum()  # ASB per resident, city-wide
    assert len(expected) > 250 and observed.sum() > 550
    o, e = observed.to_numpy(), expected.to_numpy()
    plain = hot_spot_table(o, e, dispersion="none")
    auto = hot_spot_table(o, e, dispersion="auto")
    d = auto.attrs["dispersion"]
    assert d["phi"] == pytest.approx(_phi_by_hand(o, e), rel=1e-12)
    assert d["phi"] > 1 and d["applied"] == "negbin" and d["tau2"] > 0
    # Unwinsorised, the city-centre areas dominate: the raw dispersion is several times phi.
    assert (od.standard_z(o, e) ** 2).mean() > 4 * d["phi"]
    flagged_plain = int((plain["class"] != "as_expected").sum())
    flagged_auto = int((auto["class"] != "as_expected").sum())
    assert 0 < flagged_auto < flagged_plain
    # Allowing for overdispersion the areas still flagged are the most extreme ones.
    assert set(auto.index[auto["class"] != "as_expected"]) <= set(
        plain.index[plain["class"] != "as_expected"]
    )
    assert (auto["funnel_998_high"] >= plain["funnel_998_high"] - 1e-9).all()
