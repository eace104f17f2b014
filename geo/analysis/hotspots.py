"""Hot spots and not spots: observed service use against what the population predicts.

Every function here is pure and vectorised: counts in, frames or arrays out. The
statistics are those of indirect standardisation (the standardised ratio of
epidemiology) with exact Poisson inference:

* expected count of area *i*: ``E_i = Σ_s H[i, s] × r_s`` with ``H`` the households of
  segment *s* in area *i* and ``r_s`` the segment's rate (from the whole study area, or a
  reference profile learnt elsewhere);
* ratio ``O_i / E_i`` with Garwood's exact Poisson interval;
* two-sided exact Poisson p-value against ratio 1;
* funnel-plot control limits around ratio 1 (Spiegelhalter 2005);
* a class, ``hot`` / ``not`` / ``as_expected``, after Benjamini-Hochberg control of the
  false-discovery rate across all areas.

All array functions accept any leading shape: the last axis indexes areas, so many
replicates (simulated null data, say) are tested in one call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from geo.analysis import overdispersion as od
from geo.errors import InvalidRequest

#: Class labels, in map legend order.
CLASSES: tuple[str, ...] = ("hot", "as_expected", "not")

#: The funnel-plot levels every result carries (two-sided coverage) and their column tags.
FUNNEL_LEVELS: dict[float, str] = {0.95: "95", 0.998: "998"}

UNCLASSIFIED = "__unclassified__"


def _check_fdr(fdr: float) -> float:
    if not 0 < fdr < 1:
        raise InvalidRequest(f"`fdr` was {fdr!r} but is expected to be between 0 and 1 (exclusive)")
    return float(fdr)


def _check_alpha(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise InvalidRequest(f"`alpha` was {alpha!r} but is expected to be between 0 and 1 (exclusive)")
    return float(alpha)


def _pivot(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """Area × segment matrix from a long frame; a missing segment code becomes UNCLASSIFIED."""
    long = frame.assign(segment_code=frame["segment_code"].fillna(UNCLASSIFIED).astype(str))
    wide = long.pivot_table(
        index="area_code", columns="segment_code", values=value, aggfunc="sum", fill_value=0
    )
    return wide.astype(float)


def segment_rates(households: pd.DataFrame, counts: pd.DataFrame) -> pd.Series:
    """Rate of use per household for every classified segment.

    Parameters
    ----------
    households
        Long frame ``area_code, segment_code, households`` (``households_by_area_segment``).
    counts
        Long frame ``area_code, segment_code, target`` (``service_counts_by_area_segment``).

    Returns
    -------
    Series indexed by ``segment_code``: ``r_s = Σ_i O[i, s] / Σ_i H[i, s]``. Segments
    without households get NaN. Unclassified households and events are left out: their
    share is handled by ``expected_counts``.
    """
    h = households.dropna(subset=["segment_code"]).groupby("segment_code")["households"].sum()
    o = counts.dropna(subset=["segment_code"]).groupby("segment_code")["target"].sum()
    o = o.reindex(h.index, fill_value=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = o.astype(float) / h.astype(float).where(h > 0)
    rates.name = "rate"
    return rates


def check_rates(rates: Any) -> pd.Series:
    """Normalise a reference profile (mapping or Series segment -> rate) and validate it."""
    series = pd.Series(rates, dtype=float) if not isinstance(rates, pd.Series) else rates.astype(float)
    if series.empty:
        raise InvalidRequest("`rates` is empty but is expected to give a rate for at least one segment")
    bad = series[~np.isfinite(series.to_numpy()) | (series.to_numpy() < 0)]
    if len(bad):
        raise InvalidRequest(
            f"`rates` has {bad.to_dict()!r} but every rate is expected to be a finite number >= 0"
        )
    series.index = series.index.astype(str)
    series.name = "rate"
    return series


def expected_counts(households: pd.DataFrame, rates: pd.Series) -> pd.Series:
    """Expected use per area under a segment profile: ``E_i = Σ_s H[i, s] × r_s``.

    Parameters
    ----------
    households
        Long frame ``area_code, segment_code, households``.
    rates
        Rate per segment code. Households in segments the profile does not know (and
        unclassified households) are given the profile's household-weighted mean rate
        over the segments it does know, so they neither vanish nor count as zero.

    Returns
    -------
    Series of expected counts indexed by ``area_code``.

    Notes
    -----
    This is the expected count of indirect standardisation (Breslow & Day 1987, vol. II
    ch. 2): the count the area would show if each of its segments used the service at
    the reference rate.
    """
    rates = check_rates(rates)
    h = _pivot(households, "households")
    known = [c for c in h.columns if c in rates.index and np.isfinite(rates[c])]
    known_h = h[known].sum(axis=0)
    fallback = float((known_h * rates[known]).sum() / known_h.sum()) if known_h.sum() > 0 else 0.0
    r = np.array([rates[c] if c in known else fallback for c in h.columns], dtype=float)
    expected = pd.Series(h.to_numpy() @ r, index=h.index, name="expected")
    return expected


def exact_poisson_interval(observed: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Garwood's exact (central) confidence interval for a Poisson mean.

    Parameters
    ----------
    observed
        Observed counts (any shape).
    alpha
        1 − coverage: 0.05 gives a 95 % interval.

    Returns
    -------
    ``(low, high)`` arrays for the Poisson mean.

    Notes
    -----
    ``low = ½ χ²(α/2; 2O)`` (0 when O = 0) and ``high = ½ χ²(1 − α/2; 2O + 2)``, written
    with the equivalent gamma quantiles ``Γ⁻¹(α/2; O)`` and ``Γ⁻¹(1 − α/2; O + 1)``
    (Garwood 1936, Biometrika 28:437; Ulm 1990, Am J Epidemiol 131:373). Divide by the
    expected count for the interval of the ratio O/E.
    """
    alpha = _check_alpha(alpha)
    o = np.asarray(observed, dtype=float)
    with np.errstate(invalid="ignore"):
        low = np.where(o > 0, stats.gamma.ppf(alpha / 2, np.where(o > 0, o, 1.0)), 0.0)
    high = stats.gamma.ppf(1 - alpha / 2, o + 1)
    return low, high


def poisson_p_value(observed: Any, expected: Any) -> np.ndarray:
    """Two-sided exact Poisson p-value of observing ``observed`` when ``expected`` is the mean.

    Notes
    -----
    ``p = min(1, 2 × min(P(X ≤ O), P(X ≥ O)))`` with ``X ~ Poisson(E)``: the doubled
    one-sided tail, which is the test that Garwood's central interval inverts, so an
    area's interval excludes ratio 1 at level α exactly when ``p < α``. Where ``E = 0``
    the p-value is 1 if nothing was observed and 0 otherwise.
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    o, e = np.broadcast_arrays(o, e)
    safe_e = np.where(e > 0, e, 1.0)
    lower = stats.poisson.cdf(o, safe_e)
    upper = stats.poisson.sf(o - 1, safe_e)
    p = np.minimum(1.0, 2 * np.minimum(lower, upper))
    return np.where(e > 0, p, np.where(o > 0, 0.0, 1.0))


def funnel_limits(expected: Any, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Funnel-plot control limits for the ratio O/E around 1 at two-sided ``level``.

    Parameters
    ----------
    expected
        Expected counts (the funnel's x axis).
    level
        Two-sided coverage: 0.95 or 0.998 conventionally ("2 and 3 sigma").

    Returns
    -------
    ``(low, high)`` ratio limits; NaN where ``E = 0``.

    Notes
    -----
    Exact Poisson limits with the interpolation of Spiegelhalter (2005, Stat Med 24:1185,
    appendix A.1.1) so the funnel is smooth: for a tail probability ``p``, ``y_p`` is the
    Poisson(E) ``p``-quantile and the limit is ``(y_p − a) / E`` with
    ``a = (F(y_p) − p) / (F(y_p) − F(y_p − 1))``.
    """
    if not 0 < level < 1:
        raise InvalidRequest(f"`level` was {level!r} but is expected to be between 0 and 1")
    e = np.asarray(expected, dtype=float)
    safe_e = np.where(e > 0, e, 1.0)
    out = []
    for p in ((1 - level) / 2, 1 - (1 - level) / 2):
        y = stats.poisson.ppf(p, safe_e)
        f_y = stats.poisson.cdf(y, safe_e)
        f_prev = stats.poisson.cdf(y - 1, safe_e)
        step = np.where(f_y > f_prev, f_y - f_prev, 1.0)
        a = (f_y - p) / step
        limit = np.maximum(y - a, 0.0) / safe_e
        out.append(np.where(e > 0, limit, np.nan))
    return out[0], out[1]


def benjamini_hochberg(p_values: Any) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) along the last axis.

    Notes
    -----
    ``q_(k) = min_{j ≥ k} min(1, m p_(j) / j)`` over the sorted p-values; rejecting every
    hypothesis with ``q ≤ δ`` controls the false-discovery rate at δ for independent or
    positively dependent tests (Benjamini & Hochberg 1995, JRSS B 57:289). NaN p-values
    are not tests: they stay NaN and do not count in ``m``.
    """
    p = np.asarray(p_values, dtype=float)
    flat = p.reshape(-1, p.shape[-1]) if p.ndim else p.reshape(1, 1)
    valid = np.isfinite(flat)
    m = valid.sum(axis=1, keepdims=True)
    filled = np.where(valid, flat, np.inf)
    order = np.argsort(filled, axis=1, kind="stable")
    ranked = np.take_along_axis(filled, order, axis=1)
    ranks = np.arange(1, flat.shape[1] + 1)[None, :]
    with np.errstate(invalid="ignore"):
        scaled = np.minimum(1.0, ranked * m / ranks)
    scaled = np.where(np.isfinite(scaled), scaled, 1.0)
    adjusted = np.minimum.accumulate(scaled[:, ::-1], axis=1)[:, ::-1]
    q = np.empty_like(adjusted)
    np.put_along_axis(q, order, adjusted, axis=1)
    q = np.where(valid, q, np.nan)
    return q.reshape(p.shape)


def classify(direction: Any, q_values: Any, fdr: float) -> np.ndarray:
    """``hot`` / ``not`` / ``as_expected`` from a direction (sign of O − E or of z) and q-values."""
    fdr = _check_fdr(fdr)
    d = np.asarray(direction, dtype=float)
    q = np.asarray(q_values, dtype=float)
    significant = np.isfinite(q) & (q <= fdr)
    out = np.full(np.broadcast(d, q).shape, "as_expected", dtype=object)
    out[significant & (d > 0)] = "hot"
    out[significant & (d < 0)] = "not"
    return out


def observed_counts(counts: pd.DataFrame) -> pd.Series:
    """Observed use per area: every counted event or household, classified or not."""
    return counts.groupby("area_code")["target"].sum().astype(float).rename("observed")


def hot_spots(
    households: pd.DataFrame,
    counts: pd.DataFrame,
    *,
    rates: Any = None,
    fdr: float = 0.05,
    alpha: float = 0.05,
    scale_to_observed: bool | None = None,
    dispersion: str = "auto",
) -> pd.DataFrame:
    """Expected against observed use for every area, with exact tests and FDR classes.

    Parameters
    ----------
    households
        Long frame ``area_code, segment_code, households``.
    counts
        Long frame ``area_code, segment_code, target`` for the same areas.
    rates
        Reference profile (segment -> rate). None learns it from ``households`` and
        ``counts`` themselves (the whole study area: internal standardisation).
    fdr
        False-discovery rate for the ``class`` column (Benjamini-Hochberg).
    alpha
        1 − coverage of the ratio's confidence interval.
    scale_to_observed
        Multiply every expected count by ``Σ O / Σ E`` so the study area as a whole is
        "as expected". Default: True for internal rates (events whose household has no
        segment are then spread in proportion, rather than making every area look hot),
        False for an external reference profile (whose level is the point of comparing).
    dispersion
        Area test: ``auto`` (default: allow for overdispersion when the winsorised phi
        exceeds 1), ``none`` (exact Poisson), ``multiplicative``, ``additive`` or
        ``negbin`` (see ``geo.analysis.overdispersion``).

    Returns
    -------
    DataFrame indexed by ``area_code`` with ``households``, ``expected``, ``observed``,
    ``ratio``, ``ci_low``, ``ci_high``, ``p_value``, ``q_value``, ``funnel_95_low``,
    ``funnel_95_high``, ``funnel_998_low``, ``funnel_998_high`` and ``class``; the
    scaling factor applied is in ``.attrs['scale']`` and the rates in ``.attrs['rates']``.

    Notes
    -----
    ``ratio = O / E``; ``ci`` is Garwood's interval divided by E; the p-value is the
    doubled exact tail (``poisson_p_value``). Membership services count households, which
    are binomial rather than Poisson; the Poisson test is then slightly conservative.
    """
    fdr = _check_fdr(fdr)
    internal = rates is None
    profile = segment_rates(households, counts) if internal else check_rates(rates)
    expected = expected_counts(households, profile.dropna())
    hh = households.groupby("area_code")["households"].sum().astype(float)
    areas = hh.index.union(expected.index)
    expected = expected.reindex(areas, fill_value=0.0)
    observed = observed_counts(counts).reindex(areas, fill_value=0.0)
    scale = 1.0
    if scale_to_observed if scale_to_observed is not None else internal:
        total_e = float(expected.sum())
        scale = float(observed.sum()) / total_e if total_e > 0 else 1.0
        expected = expected * scale
    e = expected.to_numpy()
    o = observed.to_numpy()
    frame = hot_spot_table(o, e, fdr=fdr, alpha=alpha, dispersion=dispersion)
    frame.index = pd.Index(areas, name="area_code")
    frame.insert(0, "households", hh.reindex(areas, fill_value=0).astype("int64").to_numpy())
    frame.attrs["scale"] = scale
    frame.attrs["rates"] = profile.to_dict()
    return frame


def hot_spot_table(
    observed: Any,
    expected: Any,
    *,
    fdr: float = 0.05,
    alpha: float = 0.05,
    dispersion: str = "auto",
    power: float = 0.8,
) -> pd.DataFrame:
    """The per-area statistics of ``hot_spots`` from observed and expected arrays.

    ``dispersion`` (``overdispersion.DISPERSION_MODES``) chooses the area test: the exact
    Poisson test (``none``), or one allowing for overdispersion measured by the winsorised
    ``phi`` (``multiplicative``, ``additive``, ``negbin``); ``auto`` is negbin when
    ``phi > 1``. ``p_value``, ``q_value``, ``class`` and the funnel limits follow the model
    applied; the Poisson p-value is kept as ``poisson_p_value``. ``mdrr_high`` and
    ``mdrr_low`` are the relative risks an area must reach to be flagged on its own
    (test level ``fdr / m``, the Benjamini-Hochberg threshold of a lone discovery) with
    80 % power. What was measured and applied is in ``.attrs['dispersion']``.
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    od.check_dispersion(dispersion)
    safe_e = np.where(e > 0, e, np.nan)
    low, high = exact_poisson_interval(o, alpha)
    summary = od.summary(o, e, dispersion)
    mode, phi, tau2 = summary["applied"], summary["phi_corrected"], summary["tau2"]
    p_poisson = poisson_p_value(o, e)
    p = p_poisson if mode == "none" else od.adjusted_p_value(o, e, mode, phi, tau2)
    q = benjamini_hochberg(p)
    columns: dict[str, Any] = {
        "expected": e,
        "observed": o,
        "ratio": o / safe_e,
        "ci_low": low / safe_e,
        "ci_high": high / safe_e,
        "p_value": p,
        "q_value": q,
    }
    for level, tag in FUNNEL_LEVELS.items():
        if mode == "none":
            lo, hi = funnel_limits(e, level)
        else:
            lo, hi = od.adjusted_funnel(e, level, mode, phi, tau2)
        columns[f"funnel_{tag}_low"] = lo
        columns[f"funnel_{tag}_high"] = hi
    columns["class"] = classify(o - e, q, fdr)
    columns["poisson_p_value"] = p_poisson
    m = max(1, int((e > 0).sum()))
    columns["mdrr_high"], columns["mdrr_low"] = od.min_detectable_ratio(
        e, fdr / m, power=power, mode="none" if mode == "negbin" and tau2 <= 0 else mode, phi=phi, tau2=tau2
    )
    frame = pd.DataFrame(columns)
    summary["mdrr"] = f"relative risk flagged alone with {power:.0%} power at level fdr/m = {fdr / m:.2g}"
    frame.attrs["dispersion"] = summary
    return frame
