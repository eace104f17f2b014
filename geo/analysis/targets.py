"""Core and developmental targets from a propensity table (Mosaic's practice).

A segment is a **core** target of a service when it is both over-represented among the
service's users (index at least ``min_index``, 120 by default) and a large part of them
(share of the target, ``target_pct``, at least ``min_share_pct``, 5 % by default): the
campaign's main audience. It is a **developmental** target when it is over-represented but
small: worth reaching, but not where most of the use is. Other segments are not targets.

The classes are read from the figures the caller sees (the published, rounded index and
percentage, after disclosure control for public callers), so a table never says "core"
beside an index of 119, and a suppressed index has no class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from geo.analysis import hotspot_queries as q
from geo.analysis.propensity import TOTAL, round_half_away
from geo.analysis.services import ServiceFilter, service_propensity
from geo.disclosure import DisclosurePolicy
from geo.errors import InvalidRequest

TargetClass = Literal["core", "developmental"]
CORE: TargetClass = "core"
DEVELOPMENTAL: TargetClass = "developmental"


@dataclass(frozen=True)
class TargetThresholds:
    """Where a segment becomes a target: index at least ``min_index``; core if its share is large."""

    min_index: float = 120.0
    min_share_pct: float = 5.0
    #: Also require the index's interval to exclude 100 (off by default, as in Mosaic).
    significant_only: bool = False

    def __post_init__(self) -> None:
        if not np.isfinite(self.min_index) or self.min_index <= 100:
            raise InvalidRequest(
                f"`min_index` was {self.min_index!r} but is expected to be above 100 (over-represented)"
            )
        if not np.isfinite(self.min_share_pct) or not 0 <= self.min_share_pct <= 100:
            raise InvalidRequest(
                f"`min_share_pct` was {self.min_share_pct!r} but is expected to be from 0 to 100"
            )

    def describe(self) -> dict[str, Any]:
        """The rule as the response states it."""
        return {
            "min_index": self.min_index,
            "min_share_pct": self.min_share_pct,
            "significant_only": self.significant_only,
            "rule": (
                f"core: index >= {self.min_index:g} and target_pct >= {self.min_share_pct:g}; "
                f"developmental: index >= {self.min_index:g} and target_pct < {self.min_share_pct:g}"
                + ("; index significantly above 100" if self.significant_only else "")
            ),
        }


def target_classes(table: pd.DataFrame, thresholds: TargetThresholds | None = None) -> pd.Series:
    """The target class of each row of a propensity table: ``core``, ``developmental`` or None.

    Parameters
    ----------
    table
        A propensity table (``propensity.propensity_table``), possibly after disclosure
        control: ``segment``, ``target_pct``, ``index`` and ``significant``; suppressed or
        missing figures give no class, and neither does the total row.
    thresholds
        The rule (defaults: index 120, share 5 %).

    Returns
    -------
    Object Series aligned with ``table``.

    Notes
    -----
    ``core = index >= I and target_pct >= S``; ``developmental = index >= I and
    target_pct < S`` (Experian's Mosaic targeting guides call these core and developmental
    targets; the defaults are theirs). Both are judged on the figures as published.
    """
    rule = thresholds or TargetThresholds()
    missing = [c for c in ("segment", "target_pct", "index") if c not in table.columns]
    if missing:
        raise InvalidRequest(f"a propensity table needs columns {missing} to classify targets")
    index = pd.to_numeric(table["index"], errors="coerce").to_numpy(dtype=float)
    share = pd.to_numeric(table["target_pct"], errors="coerce").to_numpy(dtype=float)
    over = np.nan_to_num(index, nan=-np.inf) >= rule.min_index
    if rule.significant_only and "significant" in table.columns:
        over &= table["significant"].map(lambda v: v is True).to_numpy(dtype=bool)
    known = ~np.isnan(share) & (table["segment"].astype(str) != TOTAL).to_numpy()
    big = np.nan_to_num(share, nan=-np.inf) >= rule.min_share_pct
    out = np.full(len(table), None, dtype=object)
    out[over & known & big] = CORE
    out[over & known & ~big] = DEVELOPMENTAL
    return pd.Series(out, index=table.index, dtype=object, name="target_class")


def with_target_classes(table: pd.DataFrame, thresholds: TargetThresholds | None = None) -> pd.DataFrame:
    """A copy of ``table`` with a ``target_class`` column after ``significant``."""
    out = table.copy()
    out["target_class"] = target_classes(table, thresholds)
    return out


def service_targets(
    conn: Connection,
    service: str,
    classification: str | None,
    filters: ServiceFilter | None = None,
    *,
    thresholds: TargetThresholds | None = None,
    policy: DisclosurePolicy | None = None,
) -> dict[str, Any]:
    """The service's propensity table with each segment's target class (``service_propensity``).

    Returns the dict of ``service_propensity`` with ``rows`` gaining ``target_class``, plus
    ``thresholds`` (the rule) and the ``core`` and ``developmental`` segment codes.
    """
    rule = thresholds or TargetThresholds()
    result = service_propensity(conn, service, classification, filters, policy=policy)
    rows = with_target_classes(result["rows"], rule)
    return {
        **result,
        "rows": rows,
        "thresholds": rule.describe(),
        "core": rows.loc[rows["target_class"] == CORE, "segment"].tolist(),
        "developmental": rows.loc[rows["target_class"] == DEVELOPMENTAL, "segment"].tolist(),
    }


def target_areas(
    conn: Connection,
    service: str,
    level: str,
    *,
    classes: tuple[TargetClass, ...] = (CORE, DEVELOPMENTAL),
    thresholds: TargetThresholds | None = None,
    classification: str | None = None,
    percentile: float = 80.0,
    top: int | None = 50,
    within: str | None = None,
) -> dict[str, Any]:
    """A targeting list for the service's core (and developmental) segments.

    The segments are chosen by :func:`service_targets` over the study area (``within``),
    then areas are ranked by the unmet demand of those segments' households
    (``hotspot_queries.targeting``, the same list as ``/targeting``); each row also says
    which of its segments are core and which developmental.

    Returns
    -------
    ``{"meta", "targets", "rows"}``: ``targets`` is the propensity table with classes,
    ``rows`` the ranked areas (an empty list when no segment qualifies).
    """
    if not classes or any(c not in (CORE, DEVELOPMENTAL) for c in classes):
        raise InvalidRequest(
            f"`classes` was {list(classes)!r} but is expected to hold 'core' and/or 'developmental'"
        )
    rule = thresholds or TargetThresholds()
    targets = service_targets(conn, service, classification, ServiceFilter(within=within), thresholds=rule)
    chosen = [s for c in classes for s in targets[c]]
    meta = {
        "service": service,
        "classification": targets["classification"],
        "thresholds": targets["thresholds"],
        "classes": list(classes),
        "core": targets["core"],
        "developmental": targets["developmental"],
        "segments": chosen,
    }
    if not chosen:
        return {
            "meta": {**meta, "score": "no segment meets the thresholds"},
            "targets": targets["rows"],
            "rows": [],
        }
    geography = q.resolve_analysis_geography(conn, level, None)
    frame = q.targeting(
        conn,
        service,
        geography,
        chosen,
        percentile=percentile,
        classification=targets["classification"],
        top=top,
        within=within,
    )
    core = set(targets["core"])
    frame["core_segments"] = frame["segments"].map(lambda ss: [s for s in ss if s in core])
    frame["developmental_segments"] = frame["segments"].map(lambda ss: [s for s in ss if s not in core])
    for col in ("observed", "unmet", "unmet_per_1000"):
        frame[col] = round_half_away(frame[col].to_numpy(dtype=float), 2)
    return {"meta": {**frame.attrs["meta"], **meta}, "targets": targets["rows"], "rows": frame}
