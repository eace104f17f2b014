"""Need and reach: is a whole segment under-served?

Area hot spots use each segment's own rate to build expected counts, so a segment that is
under-served everywhere is invisible to them. Here each segment is compared with a
**reference** rate from outside its own use:

* ``reach_s = users_s / eligible_s``: the share of the segment's households using the service
  (membership services count households: a proportion with Wilson's score interval) or its
  events per household (event services: Garwood's exact Poisson interval divided by the
  households);
* ``expected_s = eligible_s × reference_s`` with the reference from another district
  (``reference=area:<code>``), a published table (``reference=rates:A=0.2,...``) or, with no
  reference, the whole study's rate per household (the same for every segment: how each
  segment compares with the average household);
* ``ratio_s = observed_s / expected_s`` with Garwood's interval and an exact two-sided Poisson
  p-value, Benjamini-Hochberg across segments, and a class ``under_served`` /
  ``over_served`` / ``as_expected``;
* rows come least reached first (by ratio, then reach).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from geo.analysis.hotspots import (
    UNCLASSIFIED,
    benjamini_hochberg,
    check_rates,
    exact_poisson_interval,
    poisson_p_value,
)
from geo.errors import InvalidRequest


def wilson_interval(successes: Any, trials: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval for a proportion (Wilson 1927, JASA 22:209)."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = stats.norm.isf(alpha / 2)
    safe = np.where(n > 0, n, 1.0)
    p = x / safe
    centre = (p + z * z / (2 * safe)) / (1 + z * z / safe)
    half = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe)) / (1 + z * z / safe)
    return np.where(n > 0, centre - half, np.nan), np.where(n > 0, centre + half, np.nan)


def allocate_eligible(households: pd.DataFrame, eligible: pd.Series) -> pd.DataFrame:
    """Share each area's eligible count among its segments in proportion to their households.

    ``eligible_{a,s} = eligible_a × h_{a,s} / h_a``: an area statistic (residents, say) has no
    segment, so each segment gets its share of the area's households (the assumption stated in
    the answer's meta). Areas with no households drop out; an area with households but no
    eligible count is an error naming it.

    Parameters
    ----------
    households
        Long frame ``area_code, segment_code, households``.
    eligible
        Eligible count per area code (non-negative).

    Returns
    -------
    The long frame with ``households`` replaced by the allocated eligible count.
    """
    h = households.copy()
    totals = h.groupby("area_code")["households"].transform("sum").astype(float)
    h = h[totals > 0]
    totals = totals[totals > 0]
    values = pd.to_numeric(eligible, errors="coerce").reindex(h["area_code"].unique())
    missing = sorted(values.index[values.isna()].astype(str))
    if missing:
        raise InvalidRequest(
            f"no eligible count for {len(missing)} areas with households (first: {missing[:5]}); "
            "load the base with an area-statistics batch"
        )
    if (values < 0).any():
        raise InvalidRequest("eligible counts are expected to be >= 0")
    h["households"] = h["area_code"].map(values).to_numpy() * h["households"].to_numpy() / totals.to_numpy()
    return h


def segment_reach(
    households: pd.DataFrame,
    counts: pd.DataFrame,
    *,
    reference: Any = None,
    unit: str = "events",
    fdr: float = 0.05,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Reach of every segment against a reference rate.

    Parameters
    ----------
    households
        Long frame ``area_code, segment_code, households`` (the eligible base).
    counts
        Long frame ``area_code, segment_code, target`` (users or events).
    reference
        Rate per segment (mapping or Series), or None for the study's overall rate.
    unit
        ``households`` (reach is a proportion, Wilson interval) or ``events``.
    fdr
        Benjamini-Hochberg level across segments for ``class``.
    alpha
        1 − coverage of the intervals.

    Returns
    -------
    DataFrame, least reached first: ``segment_code, eligible, observed, reach, reach_low,
    reach_high, reference_rate, expected, ratio, ratio_low, ratio_high, p_value, q_value,
    class``. Unclassified households and their use are left out.
    """
    if not 0 < fdr < 1:
        raise InvalidRequest(f"`fdr` was {fdr!r} but is expected to be between 0 and 1 (exclusive)")
    h = households.dropna(subset=["segment_code"]).groupby("segment_code")["households"].sum().astype(float)
    h = h[h.index != UNCLASSIFIED]
    o = counts.dropna(subset=["segment_code"]).groupby("segment_code")["target"].sum().astype(float)
    o = o.reindex(h.index, fill_value=0.0)
    if h.sum() <= 0:
        raise InvalidRequest("no classified households in the study area: reach is undefined")
    if reference is None:
        overall = o.sum() / h.sum()
        ref = pd.Series(overall, index=h.index)
        described = "study-wide rate per household"
    else:
        ref = check_rates(reference)
        missing = sorted(set(h.index) - set(ref.index))
        if missing:
            raise InvalidRequest(f"`reference` has no rate for segments {missing}")
        ref = ref.reindex(h.index)
        described = "reference rate per segment"
    e = h * ref
    if unit == "households":
        low, high = wilson_interval(o, h, alpha)
    else:
        glow, ghigh = exact_poisson_interval(o, alpha)
        low, high = glow / h.to_numpy(), ghigh / h.to_numpy()
    rlow, rhigh = exact_poisson_interval(o, alpha)
    safe_e = np.where(e > 0, e, np.nan)
    p = poisson_p_value(o.to_numpy(), e.to_numpy())
    q = benjamini_hochberg(p)
    ratio = o.to_numpy() / safe_e
    cls = np.full(len(h), "as_expected", dtype=object)
    sig = np.isfinite(q) & (q <= fdr)
    cls[sig & (ratio < 1)] = "under_served"
    cls[sig & (ratio > 1)] = "over_served"
    out = pd.DataFrame(
        {
            "segment_code": h.index.astype(str),
            "eligible": h.to_numpy(),
            "observed": o.to_numpy(),
            "reach": o.to_numpy() / h.to_numpy(),
            "reach_low": low,
            "reach_high": high,
            "reference_rate": ref.to_numpy(),
            "expected": e.to_numpy(),
            "ratio": ratio,
            "ratio_low": rlow / safe_e,
            "ratio_high": rhigh / safe_e,
            "p_value": p,
            "q_value": q,
            "class": cls,
        }
    )
    out = out.sort_values(["ratio", "reach"], kind="stable", na_position="last").reset_index(drop=True)
    out.attrs["reference"] = described
    return out
