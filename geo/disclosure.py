"""Disclosure control: small counts are not shown to public users.

A count from 1 to ``threshold`` (default 4) is shown as ``"<5"``; zero stays zero (it
discloses nothing about a person). Functions here are pure and vectorised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd


def suppressed_label(threshold: int) -> str:
    """The label a suppressed count is shown as: ``"<5"`` for threshold 4."""
    return f"<{threshold + 1}"


def small_count_mask(counts: Any, threshold: int) -> np.ndarray:
    """Boolean mask of counts that must be suppressed (1 <= count <= threshold)."""
    values = np.asarray(counts, dtype=float)
    return (values >= 1) & (values <= threshold)


def suppress_columns(
    frame: pd.DataFrame,
    count_columns: Sequence[str],
    threshold: int,
    dependent: dict[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Return a copy of ``frame`` with small counts replaced by the suppressed label.

    Parameters
    ----------
    frame
        Rows of aggregates.
    count_columns
        Columns holding counts of people or households.
    threshold
        Largest count that is suppressed.
    dependent
        For each count column, columns derived from it (percentages, indices, rates)
        that would reveal it; they become None wherever the count is suppressed.
    """
    out = frame.copy()
    label = suppressed_label(threshold)
    for col in count_columns:
        mask = small_count_mask(out[col].to_numpy(), threshold)
        if not mask.any():
            continue
        out[col] = out[col].astype(object)
        out.loc[mask, col] = label
        for dep in (dependent or {}).get(col, ()):
            out[dep] = out[dep].astype(object)
            out.loc[mask, dep] = None
    return out
