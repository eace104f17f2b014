"""Service propensity tables: which segments use a service more or less than their share.

The arithmetic and rounding follow the esd-toolkit style tables councils publish
(percentages to 2 decimals, index to a whole number, half away from zero), computed
*exactly* from the integer counts so that a table built from published counts gives the
published figures to the digit: every rounded figure is a rational number ``p / q`` of
integers, and it is rounded as a rational, never through a binary float (in which
12.345 is 12.3449999... and would round down).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from geo.errors import InvalidRequest
from geo.exports import csv_text

#: The largest count a table accepts.
MAX_COUNT = 10**15

#: The label of the total row in every table.
TOTAL = "Total"

COLUMNS: tuple[str, ...] = (
    "segment",
    "target",
    "target_pct",
    "base",
    "base_pct",
    "penetration_pct",
    "index",
    "ci_low",
    "ci_high",
    "significant",
)


def round_ratio_half_away(numer: Any, denom: Any, decimals: int = 0) -> np.ndarray:
    """Round ``numer / denom`` to ``decimals`` places, half away from zero, exactly.

    Parameters
    ----------
    numer, denom
        Integer arrays (or scalars); ``denom`` must be non-zero where a result is wanted
        (zero denominators give NaN).
    decimals
        Decimal places to keep.

    Returns
    -------
    Float array of the rounded values (NaN where ``denom == 0``).

    Notes
    -----
    With ``s = 10**decimals``, the result is ``sign(p/q) * floor((2|p|s + |q|) / (2|q|)) / s``,
    evaluated in Python integers (object arrays, so there is no overflow), which is the
    "round half away from zero" of Excel's ``ROUND`` and of the published tables; Python's
    ``round`` rounds half to even (62.5 -> 62) and would not reproduce them.
    """
    p = np.asarray(numer, dtype=object)
    q = np.asarray(denom, dtype=object)
    p, q = np.broadcast_arrays(p, q)
    scale = 10**decimals
    zero = q == 0
    safe_q = np.where(zero, 1, q)
    sign = np.where((p < 0) ^ (safe_q < 0), -1, 1)
    abs_p = np.abs(p)
    abs_q = np.abs(safe_q)
    units = (2 * abs_p * scale + abs_q) // (2 * abs_q)
    out = (sign * units).astype(float) / scale
    return np.where(zero, np.nan, out)


def round_half_away(values: Any, decimals: int = 0) -> np.ndarray:
    """Round floats half away from zero, vectorised (for figures that are not ratios of counts).

    Notes
    -----
    ``sign(x) × floor(|x| × 10^d + 0.5) / 10^d``, after first rounding ``|x| × 10^d`` to 9
    decimals so that binary noise does not move a decimal tie (``12.345 × 100`` is
    ``1234.4999999999998`` in binary; it rounds to 12.35 here, as written). Use
    :func:`round_ratio_half_away` whenever the integer counts are known: it is exact.
    """
    arr = np.asarray(values, dtype=float)
    scale = 10.0**decimals
    scaled = np.round(np.abs(arr) * scale, 9)
    return np.asarray(np.sign(arr) * np.floor(scaled + 0.5) / scale, dtype=float)


def _check_counts(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidRequest(f"the table needs columns {list(columns)}; missing {missing}")
    out = frame.loc[:, list(columns)].copy()
    for col in columns[1:]:
        values = pd.to_numeric(out[col], errors="coerce")
        # Counts beyond 10^15 are no real count, and would overflow int64 arithmetic.
        bad = values.isna() | (values < 0) | (values > MAX_COUNT) | (values != np.floor(values))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InvalidRequest(
                f"row {row}: `{col}` was {frame[col].iloc[row]!r} but is expected to be a whole number "
                f"from 0 to {MAX_COUNT:,}"
            )
        out[col] = values.astype("int64")
    if out[columns[0]].isna().any() or out[columns[0]].duplicated().any():
        raise InvalidRequest(f"`{columns[0]}` must be present and unique in every row")
    return out


def index_confidence_interval(
    target: Any, target_total: Any, base: Any, base_total: Any, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence interval for the index ``100 × (t/T) / (b/B)``, by the Katz log method.

    Parameters
    ----------
    target, target_total
        The segment's target count ``t`` and the total ``T``.
    base, base_total
        The segment's base (households) ``b`` and the total ``B``.
    confidence
        Two-sided confidence level.

    Returns
    -------
    ``(low, high)`` float arrays on the index scale (NaN where ``b == 0``).

    Notes
    -----
    The index is a ratio of two proportions, ``p1 = t/T`` and ``p2 = b/B``. Its log has
    standard error ``sqrt(1/t - 1/T + 1/b - 1/B)`` (Katz, Baptista, Azen and Pike, 1978,
    "Obtaining confidence intervals for the risk ratio in cohort studies", *Biometrics*
    34:469-474), so the interval is ``index × exp(±z × se)``. Counting events, ``t`` is
    treated as Poisson, for which the same variance holds conditionally on ``T``. When
    ``t = 0`` the lower limit is 0 and the upper limit uses ``t = 0.5`` (the Haldane
    continuity correction), so an absent segment still gets a finite, honest upper bound.
    """
    t = np.asarray(target, dtype=float)
    tt = np.asarray(target_total, dtype=float)
    b = np.asarray(base, dtype=float)
    bb = np.asarray(base_total, dtype=float)
    z = float(norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_eff = np.where(t > 0, t, 0.5)
        tt_eff = np.where(t > 0, tt, tt + 0.5)
        ratio = 100.0 * (t_eff / tt_eff) / (b / bb)
        var = 1.0 / t_eff - 1.0 / tt_eff + 1.0 / b - 1.0 / bb
        se = np.sqrt(np.clip(var, 0.0, None))
        low = np.where(t > 0, ratio * np.exp(-z * se), 0.0)
        high = ratio * np.exp(z * se)
    invalid = ~(b > 0) | ~(tt > 0)
    return np.where(invalid, np.nan, low), np.where(invalid, np.nan, high)


def propensity_table(
    frame: pd.DataFrame,
    *,
    segment: str = "segment",
    target: str = "target",
    base: str = "base",
    confidence: float = 0.95,
    total: bool = True,
) -> pd.DataFrame:
    """Service propensity table, one row per segment plus a total row.

    Parameters
    ----------
    frame
        One row per segment with integer ``target`` (events or distinct households using
        the service) and ``base`` (households) counts.
    segment, target, base
        Column names in ``frame``.
    confidence
        Level of the index's confidence interval.
    total
        Whether to append the total row (``segment == "Total"``).

    Returns
    -------
    DataFrame with columns ``segment, target, target_pct, base, base_pct,
    penetration_pct, index, ci_low, ci_high, significant``.

    Notes
    -----
    With ``T = Σ target`` and ``B = Σ base`` (esd-toolkit definitions)::

        target_pct      = 100 × target / T
        base_pct        = 100 × base / B
        penetration_pct = 100 × target / base
        index           = 100 × target_pct / base_pct = 100 × target × B / (base × T)

    Percentages are rounded to 2 decimals and the index to a whole number, half away from
    zero, each from the exact ratio of the counts (not from already-rounded
    percentages). ``ci_low``/``ci_high`` (whole numbers) are the Katz log interval of
    :func:`index_confidence_interval`; ``significant`` is true when that interval (before
    rounding) excludes 100. Figures whose denominator is zero are None. The total row
    has the totals, 100 % shares, the overall penetration and index 100.
    """
    counts = _check_counts(frame, (segment, target, base))
    t = counts[target].to_numpy(dtype=object)
    b = counts[base].to_numpy(dtype=object)
    t_total = int(counts[target].sum())
    b_total = int(counts[base].sum())
    low, high = index_confidence_interval(
        counts[target].to_numpy(), t_total, counts[base].to_numpy(), b_total, confidence
    )
    out = pd.DataFrame(
        {
            "segment": counts[segment].astype(str).to_numpy(),
            "target": counts[target].to_numpy(),
            "target_pct": round_ratio_half_away(100 * t, t_total, 2),
            "base": counts[base].to_numpy(),
            "base_pct": round_ratio_half_away(100 * b, b_total, 2),
            "penetration_pct": round_ratio_half_away(100 * t, b, 2),
            "index": round_ratio_half_away(100 * t * b_total, b * t_total, 0),
            "ci_low": round_half_away(low, 0),
            "ci_high": round_half_away(high, 0),
            "significant": (low > 100) | (high < 100),
        }
    )
    out["significant"] = out["significant"].astype(object)
    out.loc[np.isnan(low), "significant"] = None
    if total:
        total_row = pd.DataFrame(
            {
                "segment": [TOTAL],
                "target": [t_total],
                "target_pct": [100.0 if t_total else np.nan],
                "base": [b_total],
                "base_pct": [100.0 if b_total else np.nan],
                "penetration_pct": round_ratio_half_away(100 * t_total, b_total, 2),
                "index": [100.0 if t_total and b_total else np.nan],
                "ci_low": [np.nan],
                "ci_high": [np.nan],
                "significant": [None],
            }
        )
        out = pd.concat([out, total_row], ignore_index=True)
    return out.astype(
        {"target": "int64", "base": "int64", "index": "Int64", "ci_low": "Int64", "ci_high": "Int64"}
    )


def propensity_from_rows(rows: list[dict[str, Any]], confidence: float = 0.95) -> pd.DataFrame:
    """The propensity table of counts given as ``[{"segment", "target", "base"}, ...]``."""
    return propensity_table(pd.DataFrame(rows, columns=["segment", "target", "base"]), confidence=confidence)


def table_csv(table: pd.DataFrame) -> str:
    """A table as CSV text (header row, then one line per row; nulls empty)."""
    frame = table.astype(object).where(table.notna(), "")
    return csv_text(frame)  # text that a spreadsheet would run as a formula is neutralised


def significance_flags(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """True where an interval excludes 100, False where it covers it, None where there is none."""
    flags = ((low > 100) | (high < 100)).astype(object)
    flags[np.isnan(low)] = None
    return flags


def table_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a table as JSON-ready dicts: NaN/NA become None, numpy scalars Python ones."""
    frame = table.astype(object).where(table.notna(), None)
    records = frame.to_dict(orient="records")
    return [{str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in records]
