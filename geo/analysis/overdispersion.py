"""Overdispersion of area counts: measured, and allowed for in the area tests and funnels.

Real service counts vary between areas more than a Poisson model allows (unmeasured
local factors, repeat callers, one busy street). An exact Poisson test then flags far
too many areas. Following Spiegelhalter (2005, "Funnel plots for comparing institutional
performance", Stat Med 24:1185-1202, section 5; and Spiegelhalter, Sherlaw-Johnson et al.
2012, JRSS A 175:1-47):

* every area gets the z-score of its ratio ``y_i = O_i / E_i`` against the target 1 with
  the Poisson standard error ``s_i = 1 / sqrt(E_i)``: ``z_i = (O_i − E_i) / sqrt(E_i)``
  (Spiegelhalter's Table I for an indirectly standardised ratio). Its square has mean 1
  under a Poisson null at any E, which the square-root transform's does not at the small
  counts of one month of data (measured: 1.12 instead of 0.68 after winsorising on
  Bristol's LSOAs, about 2 events each);
* the z-scores are **winsorised**: the 10 % smallest are set to the 10th-percentile value
  and the 10 % largest to the 90th (count-based, exactly as
  ``scipy.stats.mstats.winsorize(limits=(0.1, 0.1))``), so a few true outliers do not
  inflate the estimate;
* the overdispersion factor is ``phi = (1/m) Σ z_w²`` over the m areas with ``E > 0``;
  as that is biased low when nothing is wrong (≈ 0.68 for normal z-scores),
  ``phi_corrected = phi / 0.679`` is what the test (``m phi_corrected`` against
  χ²(m − 1)) and the adjustments below use;
* **multiplicative** (quasi-Poisson) model: ``Var = phi × Poisson``, z-scores divided by
  ``sqrt(phi)`` and funnel limits widened by it (phi is never used below 1);
* **additive** random-effects model (DerSimonian & Laird 1986): a between-area variance
  of the ratio ``tau² = (m phi − (m − 1)) / (Σ w_i − Σ w_i² / Σ w_i)`` with
  ``w_i = 1 / s_i² = E_i`` (0 when negative), z-scores ``(O/E − 1) / sqrt(1/E + tau²)``
  and funnel limits ``1 ± k sqrt(1/E + tau²)``. Unlike the multiplicative model it widens the limits of
  big areas most, which is where extra-Poisson variation dominates;
* **negbin**: the same variance model read as a negative binomial (``Var O = E + tau² E²``,
  size ``1 / tau²``) with an exact two-sided (doubled-tail) test, which behaves better
  than the normal approximation for small counts.

``auto`` applies ``negbin`` when ``phi > 1`` (the winsorised phi, Spiegelhalter's rule),
and the plain Poisson test otherwise. On simulated overdispersed data with no effect anywhere (tests),
the normal-approximation models (additive, multiplicative) hold the per-area false-alarm
rate at 5 % but their tails are too light for the Benjamini-Hochberg step across hundreds
of areas (a false flag in a third of the replicates); the exact negative binomial holds
both, which is why ``auto`` uses it.
All functions accept leading axes (replicates): the last axis indexes areas.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy import stats

from geo.errors import InvalidRequest

Dispersion = Literal["auto", "none", "multiplicative", "additive", "negbin"]
DISPERSION_MODES: tuple[str, ...] = ("auto", "none", "multiplicative", "additive", "negbin")

#: Fraction winsorised at each end (Spiegelhalter 2005's convention).
WINSOR = 0.10

DESCRIPTIONS: dict[str, str] = {
    "none": "exact Poisson (two-sided, doubled tail)",
    "multiplicative": "quasi-Poisson: z-scores divided by sqrt(phi), normal p-values",
    "additive": "additive random effects (DerSimonian-Laird tau² of the ratio), normal p-values",
    "negbin": "negative binomial with size 1/tau² (Var O = E + tau² E²), exact two-sided (doubled tail)",
}


def check_dispersion(mode: str) -> Dispersion:
    """Validate a dispersion option."""
    if mode not in DISPERSION_MODES:
        raise InvalidRequest(
            f"`dispersion` was {mode!r} but is expected to be one of {', '.join(DISPERSION_MODES)}"
        )
    return mode  # type: ignore[return-value]


def standard_z(observed: Any, expected: Any) -> np.ndarray:
    """Poisson z-scores of the ratio against 1: ``(O − E) / sqrt(E)``; NaN where ``E <= 0``."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    o, e = np.broadcast_arrays(o, e)
    safe = np.where(e > 0, e, 1.0)
    return np.where(e > 0, (o - e) / np.sqrt(safe), np.nan)


def winsorise(z: Any, fraction: float = WINSOR) -> np.ndarray:
    """Winsorise along the last axis, ignoring NaN: the ``floor(fraction × m)`` smallest and
    largest values become the next value inwards (``scipy.stats.mstats.winsorize``'s rule).
    """
    if not 0 <= fraction < 0.5:
        raise InvalidRequest(f"`fraction` was {fraction!r} but is expected to be in [0, 0.5)")
    values = np.asarray(z, dtype=float)
    flat = values.reshape(-1, values.shape[-1]) if values.ndim else values.reshape(1, 1)
    ordered = np.sort(flat, axis=1)  # NaN last
    m = np.isfinite(flat).sum(axis=1)
    k = np.floor(fraction * m).astype(np.int64)
    lo_i = np.clip(k, 0, flat.shape[1] - 1)
    hi_i = np.clip(m - 1 - k, 0, flat.shape[1] - 1)
    lo = np.take_along_axis(ordered, lo_i[:, None], axis=1)
    hi = np.take_along_axis(ordered, hi_i[:, None], axis=1)
    out = np.clip(flat, lo, hi)
    return out.reshape(values.shape)


def dispersion_factor(observed: Any, expected: Any, fraction: float = WINSOR) -> np.ndarray:
    """``phi``: the mean squared winsorised z-score over areas with ``E > 0``."""
    zw = winsorise(standard_z(observed, expected), fraction)
    with np.errstate(invalid="ignore"):
        return np.nanmean(zw**2, axis=-1)


def winsor_consistency(fraction: float = WINSOR) -> float:
    """``E[z_w²]`` for a standard normal z winsorised at ``fraction`` each end (0.679 at 10 %).

    ``(1 − 2f) − 2 q φ(q) + 2 f q²`` with ``q = Φ⁻¹(1 − f)``. The winsorised phi of
    Spiegelhalter (2005) is the published convention but is biased low by this factor
    when nothing is wrong (a Poisson null gives ``phi ≈ 0.68``); dividing by it gives
    ``phi_corrected``, which is ≈ 1 under the null and is what the adjustments use.
    """
    q = stats.norm.isf(fraction)
    return float((1 - 2 * fraction) - 2 * q * stats.norm.pdf(q) + 2 * fraction * q * q)


def tau_squared(phi: Any, expected: Any) -> np.ndarray:
    """DerSimonian-Laird between-area variance of the ratio (0 when ``m phi < m − 1``)."""
    e = np.asarray(expected, dtype=float)
    w = np.where(e > 0, e, 0.0)
    m = (e > 0).sum(axis=-1)
    sw = w.sum(axis=-1)
    denom = sw - (w**2).sum(axis=-1) / np.where(sw > 0, sw, 1.0)
    phi = np.asarray(phi, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t2 = (m * phi - (m - 1)) / denom
    return np.where(np.isfinite(t2) & (t2 > 0), t2, 0.0)


def resolve_mode(mode: str, phi: float, test_p_value: float | None = None) -> str:
    """The model ``auto`` stands for: negbin (the additive random-effects variance, tested
    exactly) when Spiegelhalter's winsorised ``phi > 1``, else none.

    The rule is the paper's; as the winsorised phi is ≈ 0.68 on Poisson data it fires
    only for clear overdispersion (about phi_corrected > 1.47), and a few planted or real
    clusters beyond the winsorised 10 % do not switch a Poisson study to the wider test.
    ``test_p_value`` is reported, not used."""
    mode = check_dispersion(mode)
    if mode == "auto":
        return "negbin" if phi > 1 else "none"
    return mode


def _expand(value: Any, like: np.ndarray) -> np.ndarray:
    # A per-replicate scalar (leading shape) broadcast against the area axis.
    v = np.asarray(value, dtype=float)
    return v[..., None] if v.ndim == like.ndim - 1 and like.ndim > 0 else v


def adjusted_z(observed: Any, expected: Any, mode: str, phi: Any, tau2: Any) -> np.ndarray:
    """z-scores under the multiplicative or additive model (plain for ``none``)."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    o, e = np.broadcast_arrays(o, e)
    z = standard_z(o, e)
    if mode == "multiplicative":
        return z / np.sqrt(np.maximum(_expand(phi, z), 1.0))
    if mode in ("additive", "negbin"):
        return z / np.sqrt(1 + e * _expand(tau2, z))
    return z


def negbin_p_value(observed: Any, expected: Any, tau2: Any) -> np.ndarray:
    """Two-sided doubled-tail p-value of O under a negative binomial with mean E and
    ``Var = E + tau² E²`` (Poisson where ``tau² = 0``)."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    o, e = np.broadcast_arrays(o, e)
    t2 = np.broadcast_to(_expand(tau2, o), o.shape)
    safe_e = np.where(e > 0, e, 1.0)
    poisson = t2 <= 0
    size = np.where(poisson, 1.0, 1.0 / np.where(poisson, 1.0, t2))
    prob = size / (size + safe_e)
    lower = np.where(poisson, stats.poisson.cdf(o, safe_e), stats.nbinom.cdf(o, size, prob))
    upper = np.where(poisson, stats.poisson.sf(o - 1, safe_e), stats.nbinom.sf(o - 1, size, prob))
    p = np.minimum(1.0, 2 * np.minimum(lower, upper))
    return np.where(e > 0, p, np.where(o > 0, 0.0, 1.0))


def adjusted_p_value(observed: Any, expected: Any, mode: str, phi: Any, tau2: Any) -> np.ndarray:
    """Two-sided p-values under ``mode`` (``multiplicative``, ``additive`` or ``negbin``)."""
    if mode == "negbin":
        return negbin_p_value(observed, expected, tau2)
    z = adjusted_z(observed, expected, mode, phi, tau2)
    e = np.broadcast_to(np.asarray(expected, dtype=float), z.shape)
    o = np.broadcast_to(np.asarray(observed, dtype=float), z.shape)
    p = 2 * stats.norm.sf(np.abs(z))
    return np.where(e > 0, p, np.where(o > 0, 0.0, 1.0))


def negbin_funnel(expected: Any, level: float, tau2: float) -> tuple[np.ndarray, np.ndarray]:
    """Negative binomial funnel limits for O/E, interpolated as Spiegelhalter's Poisson ones."""
    e = np.asarray(expected, dtype=float)
    safe_e = np.where(e > 0, e, 1.0)
    size = 1 / tau2
    prob = size / (size + safe_e)
    out = []
    for p in ((1 - level) / 2, 1 - (1 - level) / 2):
        y = stats.nbinom.ppf(p, size, prob)
        f_y = stats.nbinom.cdf(y, size, prob)
        f_prev = stats.nbinom.cdf(y - 1, size, prob)
        step = np.where(f_y > f_prev, f_y - f_prev, 1.0)
        limit = np.maximum(y - (f_y - p) / step, 0.0) / safe_e
        out.append(np.where(e > 0, limit, np.nan))
    return out[0], out[1]


def adjusted_funnel(
    expected: Any, level: float, mode: str, phi: float, tau2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Funnel limits for O/E at two-sided ``level`` under the multiplicative or additive model.

    ``1 ± k sd`` with ``k`` the normal quantile and ``sd`` the ratio's standard deviation:
    ``sqrt(phi / E)`` (multiplicative) or ``sqrt(1 / E + tau²)`` (additive); the lower
    limit is at least 0.
    ``negbin`` uses the negative binomial's own quantiles (``negbin_funnel``).
    """
    e = np.asarray(expected, dtype=float)
    if mode == "negbin" and tau2 > 0:
        return negbin_funnel(e, level, tau2)
    safe_e = np.where(e > 0, e, 1.0)
    k = stats.norm.ppf(1 - (1 - level) / 2)
    if mode == "multiplicative":
        sd = np.sqrt(max(phi, 1.0) / safe_e)
    else:
        sd = np.sqrt(1 / safe_e + tau2)
    low = np.maximum(1 - k * sd, 0.0)
    high = 1 + k * sd
    return np.where(e > 0, low, np.nan), np.where(e > 0, high, np.nan)


def min_detectable_ratio(
    expected: Any, alpha: Any, *, power: float = 0.8, mode: str = "none", phi: float = 1.0, tau2: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The smallest (hot) and largest (not) relative risk an area would be flagged at with ``power``.

    Parameters
    ----------
    expected
        Expected counts per area.
    alpha
        Two-sided level of the area's own test (scalar or per area).
    mode, phi, tau2
        The dispersion model of the test.

    Returns
    -------
    ``(high, low)``: an area whose true ratio is at least ``high`` (at most ``low``) is
    flagged with probability ``power``. ``low`` is NaN where even zero events would not be
    significant (a not spot there cannot be detected), ``high`` is NaN where ``E = 0``.

    Notes
    -----
    Poisson: the critical count ``c = min{c : P(X >= c | E) <= α/2}``; the true mean with
    ``P(X >= c) = power`` is the gamma quantile ``Γ⁻¹(power; c)`` (Poisson-gamma duality),
    so ``high = Γ⁻¹(power; c) / E``. On the low side ``c' = max{c : P(X <= c | E) <= α/2}``
    and ``low = Γ⁻¹(1 − power; c' + 1) / E``. For the dispersion models the normal
    approximation: ``high = 1 + (z_{1−α/2} + z_power) sd`` with the model's standard
    deviation of the ratio (``low`` likewise below 1, NaN when it would be <= 0).
    """
    e = np.asarray(expected, dtype=float)
    a = np.broadcast_to(np.asarray(alpha, dtype=float), e.shape)
    safe_e = np.where(e > 0, e, 1.0)
    if mode == "none":
        c = stats.poisson.isf(a / 2, safe_e) + 1  # smallest c with P(X >= c) <= a/2
        high = stats.gamma.ppf(power, c) / safe_e
        c_low = stats.poisson.ppf(a / 2, safe_e)  # smallest c with cdf >= a/2
        c_low = np.where(stats.poisson.cdf(c_low, safe_e) <= a / 2, c_low, c_low - 1)
        with np.errstate(invalid="ignore"):
            low = np.where(c_low >= 0, stats.gamma.ppf(1 - power, np.maximum(c_low, 0) + 1) / safe_e, np.nan)
    else:
        if mode == "multiplicative":
            sd = np.sqrt(max(phi, 1.0) / safe_e)
        else:
            sd = np.sqrt(1 / safe_e + tau2)
        shift = (stats.norm.isf(a / 2) + stats.norm.ppf(power)) * sd
        high = 1 + shift
        low = np.where(1 - shift > 0, 1 - shift, np.nan)
    return np.where(e > 0, high, np.nan), np.where(e > 0, low, np.nan)


def summary(observed: Any, expected: Any, requested: str, fraction: float = WINSOR) -> dict[str, Any]:
    """What ``meta.dispersion`` reports: phi, its test, tau², and the model requested and applied.

    ``phi`` is Spiegelhalter's winsorised estimate, around the study's own level (expected
    counts scaled to add up to the observed total; a no-op for internal standardisation);
    ``phi_corrected = phi / winsor_consistency(fraction)`` is the one the test, ``tau2``
    and the multiplicative model use. The test compares ``m × phi_corrected`` with χ²(m − 1).
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    m = int((e > 0).sum())
    # Between-area variation around the study's own level: with an external reference
    # whose level differs, every z would be shifted and phi would absorb the very
    # difference the comparison is meant to show.
    level = float(o.sum() / e.sum()) if e.sum() > 0 and o.sum() > 0 else 1.0
    e = e * level
    phi = float(dispersion_factor(o, e, fraction)) if m else float("nan")
    phi_c = phi / winsor_consistency(fraction) if m else float("nan")
    t2 = float(tau_squared(phi_c, e)) if m else 0.0
    test_p = float(stats.chi2.sf(m * phi_c, m - 1)) if m > 1 else None
    applied = resolve_mode(requested, phi if np.isfinite(phi) else 0.0, test_p)
    return {
        "requested": requested,
        "applied": applied,
        "level": level,
        "phi": phi,
        "phi_corrected": phi_c,
        "tau2": t2,
        "areas": m,
        "winsorised": fraction,
        "test_p_value": test_p,
        "z": "(O - E) / sqrt(E), winsorised 10% each end (Spiegelhalter 2005)",
        "test": DESCRIPTIONS[applied],
    }
