"""Did an intervention change take-up? Difference in differences against comparable areas.

Pure functions over per-area counts for two periods. The estimate compares the change in
the rate of use (per 1,000 households per year) in the treated areas with the change in
control areas, so anything that moved both (season, a district-wide campaign, a system
change) cancels; what remains is attributed to the intervention under the usual
parallel-trends assumption, which the pre-period data cannot prove.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from geo.errors import InvalidRequest


def comparable_controls(
    shares: pd.DataFrame,
    before_rate: pd.Series,
    treated: Sequence[str],
    n_controls: int,
    *,
    exclude: Sequence[str] = (),
) -> list[str]:
    """The untreated areas most like the treated ones in segment mix and pre-period rate.

    Parameters
    ----------
    shares
        Area × segment share of households (rows sum to 1).
    before_rate
        Pre-period rate per area.
    treated
        Treated area codes.
    n_controls
        How many controls to return.
    exclude
        Areas never to use as controls (neighbours of treated areas, say, which may be
        reached by the intervention too).

    Notes
    -----
    Distance is Euclidean on the segment shares plus the pre-period rate divided by its
    standard deviation across areas (so one rate SD weighs like the whole segment mix
    being swapped); each candidate's score is its distance to the nearest treated area.
    """
    rate = before_rate.reindex(shares.index).fillna(0.0)
    sd = float(rate.std()) or 1.0
    features = np.column_stack([shares.to_numpy(), (rate / sd).to_numpy()])
    is_treated = shares.index.isin(list(treated))
    candidates = ~is_treated & ~shares.index.isin(list(exclude))
    if not candidates.any():
        raise InvalidRequest("there are no untreated areas left to serve as controls")
    diff = features[candidates][:, None, :] - features[is_treated][None, :, :]
    dist = np.sqrt((diff**2).sum(axis=2)).min(axis=1)
    order = np.argsort(dist, kind="stable")[:n_controls]
    return list(shares.index[candidates][order])


def difference_in_differences(
    areas: pd.DataFrame,
    treated: Sequence[str],
    control: Sequence[str],
    *,
    before_days: float,
    after_days: float,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Difference-in-differences estimate of an intervention's effect on take-up.

    Parameters
    ----------
    areas
        Frame indexed by ``area_code`` with ``households``, ``before`` and ``after``
        (counts of use in each period).
    treated, control
        Area codes of the two groups (disjoint, both non-empty).
    before_days, after_days
        Lengths of the periods, to put both on a per-year footing.
    alpha
        1 − coverage of the confidence interval.

    Returns
    -------
    Dict with the per-group mean rates (per 1,000 households per year) before and after,
    the ``estimate`` (``(T_after − T_before) − (C_after − C_before)``), its standard
    error, the ``ci_low``/``ci_high`` interval, ``p_value``, degrees of freedom, and the
    household-pooled ``rate_ratio`` (ratio of the two groups' after/before ratios) with
    its exact-count log-scale interval.

    Notes
    -----
    Each area contributes its change ``Δ_i = r_i,after − r_i,before`` (rates per 1,000
    households per year); the estimate is ``mean(Δ_T) − mean(Δ_C)``, tested with Welch's
    t (unequal variances, Welch-Satterthwaite df). With areas as the units this equals
    the two-period DiD regression with area fixed effects and area-clustered errors,
    and it absorbs over-dispersion that a pure Poisson model would miss (Angrist &
    Pischke 2009, ch. 5; Bertrand, Duflo & Mullainathan 2004, QJE 119:249). The rate
    ratio uses ``Var(log RR) = Σ 1/O`` over the four pooled counts (Poisson).
    """
    if not 0 < alpha < 1:
        raise InvalidRequest(f"`alpha` was {alpha!r} but is expected to be between 0 and 1")
    if before_days <= 0 or after_days <= 0:
        raise InvalidRequest("both periods are expected to be at least one day long")
    t_codes, c_codes = list(dict.fromkeys(treated)), list(dict.fromkeys(control))
    overlap = sorted(set(t_codes) & set(c_codes))
    if overlap:
        raise InvalidRequest(f"areas {overlap} are both treated and controls")
    missing = sorted(set(t_codes + c_codes) - set(areas.index))
    if missing:
        raise InvalidRequest(f"areas {missing} have no households in this geography")
    hh = areas["households"].astype(float)
    before = 1000 * areas["before"] / hh / (before_days / 365.25)
    after = 1000 * areas["after"] / hh / (after_days / 365.25)
    delta = (after - before).replace([np.inf, -np.inf], np.nan)
    d_t = delta.reindex(t_codes).dropna().to_numpy()
    d_c = delta.reindex(c_codes).dropna().to_numpy()
    if len(d_t) < 2 or len(d_c) < 2:
        raise InvalidRequest("each group needs at least two areas with households for an interval")
    estimate = float(d_t.mean() - d_c.mean())
    v_t, v_c = d_t.var(ddof=1) / len(d_t), d_c.var(ddof=1) / len(d_c)
    se = float(np.sqrt(v_t + v_c))
    df = float((v_t + v_c) ** 2 / (v_t**2 / (len(d_t) - 1) + v_c**2 / (len(d_c) - 1))) if se > 0 else np.inf
    crit = float(stats.t.ppf(1 - alpha / 2, df)) if np.isfinite(df) else float(stats.norm.ppf(1 - alpha / 2))
    p = float(2 * stats.t.sf(abs(estimate) / se, df)) if se > 0 else (0.0 if estimate else 1.0)

    def pooled(codes: list[str], column: str) -> float:
        return float(areas.loc[codes, column].sum())

    counts = {
        "treated_before": pooled(t_codes, "before"),
        "treated_after": pooled(t_codes, "after"),
        "control_before": pooled(c_codes, "before"),
        "control_after": pooled(c_codes, "after"),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = (counts["treated_after"] / counts["treated_before"]) / (
            counts["control_after"] / counts["control_before"]
        )
        se_log = np.sqrt(sum(1 / c for c in counts.values())) if min(counts.values()) > 0 else np.inf
    z = stats.norm.ppf(1 - alpha / 2)
    return {
        "unit": "per 1000 households per year",
        "treated_areas": len(d_t),
        "control_areas": len(d_c),
        "treated_before": float(before.reindex(t_codes).mean()),
        "treated_after": float(after.reindex(t_codes).mean()),
        "control_before": float(before.reindex(c_codes).mean()),
        "control_after": float(after.reindex(c_codes).mean()),
        "estimate": estimate,
        "std_error": se,
        "ci_low": estimate - crit * se,
        "ci_high": estimate + crit * se,
        "confidence": 1 - alpha,
        "df": df,
        "p_value": p,
        "rate_ratio": float(rr) if np.isfinite(rr) else None,
        "rate_ratio_ci_low": float(rr * np.exp(-z * se_log)) if np.isfinite(rr * se_log) else None,
        "rate_ratio_ci_high": float(rr * np.exp(z * se_log)) if np.isfinite(rr * se_log) else None,
        "counts": counts,
    }
