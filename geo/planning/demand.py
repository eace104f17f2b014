"""Demand for siting and routing: weighted points per output area or H3 cell.

Weights come from the shared analysis inputs (``geo.analysis.hotspot_queries.study_inputs``,
which reads ``households_by_area_segment`` / ``service_counts_by_area_segment`` for areas
and the address points for H3 cells), so a plan's demand is exactly the demand the
profiling and hot-spot pages show. Four sources:

* ``households`` -- households of the chosen segments, :math:`w_i = \\sum_{s \\in S} H_{is}`;
* ``service_use`` -- observed use of a service by those segments, :math:`\\sum_{s \\in S} O_{is}`;
* ``expected`` -- use expected from the segment mix, :math:`E_i = \\sum_{s \\in S} H_{is} r_s`
  with :math:`r_s = \\sum_i O_{is} / \\sum_i H_{is}` (indirect standardisation; see
  ``geo.analysis.hotspots.expected_counts``);
* ``unmet`` -- use missing against each segment's benchmark take-up,
  :math:`\\sum_s \\max(0, b_s H_{is} - O_{is})` (``geo.analysis.demand.unmet_demand``).

Each demand unit is located at the mean of its residential addresses (OAs) or at the
cell centre (H3), in British National Grid metres.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.db import load_sql
from geo.errors import Infeasible, InvalidRequest

DemandSource = Literal["households", "service_use", "expected", "unmet"]
DemandUnit = Literal["oa", "h3"]


@dataclass(frozen=True)
class DemandPoints:
    """Weighted demand points: one per output area or H3 cell with positive weight."""

    codes: np.ndarray
    xy: np.ndarray
    weights: np.ndarray
    unit: str
    source: DemandSource
    description: str
    #: ``area_code, segment_code, households`` for the study (who lives in each demand unit).
    households: pd.DataFrame | None = None

    def __len__(self) -> int:
        return int(self.codes.size)


def check_segments(conn: Connection, classification: str, segments: Sequence[str] | None) -> list[str] | None:
    """Validate segment codes against the classification; None means every segment."""
    if segments is None:
        return None
    known = list(
        conn.execute(
            text("SELECT code FROM segment WHERE classification_code = :c ORDER BY sort_order, code"),
            {"c": classification},
        ).scalars()
    )
    unknown = sorted(set(segments) - set(known))
    if unknown:
        raise InvalidRequest(
            f"`segments` has {unknown} but is expected to hold codes of classification "
            f"{classification!r}: {known}"
        )
    if not segments:
        raise InvalidRequest("`segments` is empty: leave it out for every segment, or name some")
    return list(dict.fromkeys(segments))


def demand_weights(
    households: pd.DataFrame,
    counts: pd.DataFrame,
    source: DemandSource,
    segments: Sequence[str] | None = None,
    *,
    percentile: float = 80.0,
) -> pd.Series:
    """Demand weight per area from long household and service-use frames.

    Parameters
    ----------
    households
        ``area_code, segment_code, households`` (segment None = unclassified).
    counts
        ``area_code, segment_code, target`` for the service (empty for ``households``).
    source
        ``households``, ``service_use``, ``expected`` or ``unmet`` (module docstring).
    segments
        Segments to count; None counts every household (unclassified ones included for
        ``households`` and ``service_use``).
    percentile
        Benchmark percentile of segment take-up for ``unmet``.

    Returns
    -------
    Series of non-negative weights indexed by ``area_code``.
    """
    if source == "unmet":
        from geo.analysis.demand import unmet_demand

        table = unmet_demand(households, counts, percentile, segments=segments)
        return table["unmet"].astype(float)
    if source == "expected":
        from geo.analysis.hotspots import expected_counts, segment_rates

        rates = segment_rates(households, counts)
        h = households if segments is None else households[households["segment_code"].isin(segments)]
        if segments is None:
            return expected_counts(h, rates.fillna(0.0)).astype(float)
        rates = rates.reindex(list(segments)).fillna(0.0)
        hh = h.assign(w=h["households"].to_numpy() * rates.reindex(h["segment_code"]).to_numpy())
        return hh.groupby("area_code")["w"].sum().astype(float)
    frame, column = (households, "households") if source == "households" else (counts, "target")
    if segments is not None:
        frame = frame[frame["segment_code"].isin(segments)]
    return frame.groupby("area_code")[column].sum().astype(float)


def demand_points(
    conn: Connection,
    *,
    source: DemandSource = "households",
    classification: str | None = None,
    segments: Sequence[str] | None = None,
    service: str | None = None,
    unit: DemandUnit = "oa",
    resolution: int = 8,
    within: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    percentile: float = 80.0,
) -> DemandPoints:
    """Load demand points and weights from the database.

    Parameters
    ----------
    conn
        Database connection.
    source, segments, percentile
        As in :func:`demand_weights`.
    classification
        Segment classification (default: the analysis default, ``wardwise12`` in the demo).
    service
        Service code; required unless ``source`` is ``households``.
    unit, resolution
        Output areas, or H3 cells at ``resolution``.
    within
        Optional area code bounding the study.
    date_from, date_to
        Service-use period.

    Returns
    -------
    DemandPoints

    Raises
    ------
    InvalidRequest
        For an unknown segment or a missing service.
    Infeasible
        If no area has positive demand.
    """
    from geo.analysis import h3grid
    from geo.analysis.hotspot_queries import (
        default_classification,
        resolve_analysis_geography,
        service_unit,
        study_inputs,
    )

    classification = classification or default_classification(conn)
    if source != "households" and not service:
        raise InvalidRequest(f"`service` is required when the demand source is {source!r}")
    segs = check_segments(conn, classification, segments)
    geography = resolve_analysis_geography(conn, unit, resolution if unit == "h3" else None)
    count_unit = service_unit(conn, service) if service else "events"
    households, counts = study_inputs(
        conn,
        service if source != "households" else None,
        geography,
        classification,
        unit=count_unit,
        date_from=date_from,
        date_to=date_to,
        within=within,
    )
    weights = demand_weights(households, counts, source, segs, percentile=percentile)
    weights = weights[weights > 0].sort_index()
    what = "households" if source == "households" else f"{source.replace('_', ' ')} of {service}"
    who = f"segments {segs}" if segs else "all segments"
    description = f"{what}, {who} ({classification}), by {geography.label}"
    if weights.empty:
        raise Infeasible(f"the demand set is empty: no area has positive demand for {description}")
    codes = weights.index.to_numpy(dtype=object)
    if unit == "h3":
        xy = h3grid.cell_centres_bng(codes)
    else:
        rows = conn.execute(load_sql("planning/oa_demand_points"), {"oa_codes": codes.tolist()}).all()
        located = {r.code: (r.x, r.y) for r in rows}
        xy = np.array([located[c] for c in codes], dtype=float)
    return DemandPoints(
        codes=codes,
        xy=xy,
        weights=weights.to_numpy(dtype=float),
        unit=geography.label,
        source=source,
        description=description,
        households=households,
    )
