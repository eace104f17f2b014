"""A profile with no customer data: a target group described by weighted segments.

Mosaic Selector's idea: a service that has no records yet (a new befriending scheme, a
digital-skills course) can still be planned if officers can say which kinds of household
it is for. They give each segment a **weight**, the expected number of target members per
household of that segment (``0.30`` = three in ten households), or, with ``size``, only
relative weights (``A: 3, B: 1``: an A household is three times as likely as a B one) scaled
so the group has ``size`` members in all. Wardwise then spreads the group over the areas
and segments in proportion to where those households live::

    expected(a, s) = households(a, s) × w_s × k,   k = size / Σ households(s) w_s  (or 1)
    expected(a)    = Σ_s expected(a, s)
    index(a)       = 100 × (expected(a) / households(a)) / (Σ expected / Σ households)

Segments not named have weight 0. When census variables are loaded
(:mod:`geo.analysis.census`), the group can also (or only) be described by weighted census
variables, members per unit of the variable (``residents_in_communal_establishments: 1``
= every such resident), spread over segments by :func:`census_distribution`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.census import census_by_area, loaded_variables, parse_variables
from geo.analysis.data import households_by_area_segment
from geo.analysis.matrix import area_names
from geo.analysis.propensity import round_half_away
from geo.analysis.services import check_area, default_classification, segment_codes
from geo.areas import Geography, resolve_geography
from geo.errors import InvalidRequest


def check_weights(weights: Mapping[str, Any], segments: list[str]) -> pd.Series:
    """Weights as a Series over ``segments`` (missing ones 0); errors name the segment."""
    if not weights:
        raise InvalidRequest("`weights` is empty but is expected to weight at least one segment")
    unknown = sorted(set(weights) - set(segments))
    if unknown:
        raise InvalidRequest(
            f"`weights` has {unknown} but is expected to hold segment codes among {segments}"
        )
    out = pd.Series(0.0, index=pd.Index(segments, name="segment"))
    for seg, value in weights.items():
        try:
            w = float(value)
        except (TypeError, ValueError):
            w = -1.0
        if not np.isfinite(w) or w < 0:
            raise InvalidRequest(f"`weights.{seg}` was {value!r} but is expected to be a number >= 0")
        out[seg] = w
    if not (out > 0).any():
        raise InvalidRequest("`weights` are all 0: give at least one segment a positive weight")
    return out


def expected_distribution(
    households: pd.DataFrame, weights: pd.Series, size: float | None = None
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Spread a target group over areas and segments (module docstring's formulas).

    Parameters
    ----------
    households
        ``area_code, segment_code, households`` (unclassified households get weight 0).
    weights
        Members per household (or relative weights with ``size``), by segment.
    size
        The group's total size; None reads the weights as rates.

    Returns
    -------
    ``(summary, by_segment, by_area)``. ``by_segment``: ``segment, households, weight,
    expected, share_pct, index`` (share of the group against share of households).
    ``by_area``: ``area_code, households, expected, share_pct, per_1000, index``.
    """
    hh = households.dropna(subset=["segment_code"])
    matrix = hh.pivot_table(
        index="area_code", columns="segment_code", values="households", aggfunc="sum", fill_value=0
    ).astype(float)
    all_hh = households.groupby("area_code")["households"].sum().reindex(matrix.index).astype(float)
    w = weights.reindex(matrix.columns).fillna(0.0).to_numpy(dtype=float)
    return summarise_cells(matrix, matrix.to_numpy() * w, all_hh, w, size)


def summarise_cells(
    matrix: pd.DataFrame, raw: np.ndarray, all_hh: pd.Series, w: np.ndarray, size: float | None
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Scale the unscaled expected cells ``raw`` (areas × segments of ``matrix``) and tabulate.

    ``matrix`` holds classified households, ``all_hh`` every household per area, ``w`` the
    segment weights shown in the table.
    """
    if size is not None and (not np.isfinite(size) or size <= 0):
        raise InvalidRequest(f"`size` was {size!r} but is expected to be a number > 0")
    total_raw = float(raw.sum())
    if total_raw <= 0:
        raise InvalidRequest("no households of the weighted segments live in the study area")
    k = size / total_raw if size is not None else 1.0
    cells = raw * k
    total = float(cells.sum())
    n_total = float(all_hh.sum())
    seg_hh = matrix.sum(axis=0).to_numpy()
    seg_expected = cells.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        seg_index = 100 * (seg_expected / total) / (seg_hh / matrix.to_numpy().sum())
        area_expected = cells.sum(axis=1)
        area_rate = area_expected / all_hh.to_numpy()
        area_index = 100 * area_rate / (total / n_total)
    by_segment = pd.DataFrame(
        {
            "segment": matrix.columns.astype(str),
            "households": seg_hh.astype("int64"),
            "weight": w,
            "expected": round_half_away(seg_expected, 1),
            "share_pct": round_half_away(100 * seg_expected / total, 2),
            "index": round_half_away(seg_index, 0),
        }
    )
    by_area = pd.DataFrame(
        {
            "area_code": matrix.index.to_numpy(),
            "households": all_hh.to_numpy().astype("int64"),
            "expected": round_half_away(area_expected, 1),
            "share_pct": round_half_away(100 * area_expected / total, 2),
            "per_1000": round_half_away(1000 * area_rate, 2),
            "index": round_half_away(area_index, 0),
        }
    ).sort_values(["expected", "area_code"], ascending=[False, True], ignore_index=True)
    summary = {
        "size": float(round_half_away(total, 1)),
        "scale": k,
        "households": int(n_total),
        "per_1000": float(round_half_away(1000 * total / n_total, 2)) if n_total else None,
    }
    return summary, by_segment, by_area


def check_variable_weights(weights: Mapping[str, Any], loaded: list[str]) -> pd.Series:
    """Census-variable weights (members per unit of the variable); errors name the variable."""
    parse_variables(list(weights), loaded, ratios=False)
    out = pd.Series(0.0, index=pd.Index(list(weights), name="variable"))
    for name, value in weights.items():
        try:
            w = float(value)
        except (TypeError, ValueError):
            w = -1.0
        if not np.isfinite(w) or w < 0:
            raise InvalidRequest(f"`variables.{name}` was {value!r} but is expected to be a number >= 0")
        out[name] = w
    if not (out > 0).any():
        raise InvalidRequest("`variables` are all 0: give at least one variable a positive weight")
    return out


def census_distribution(
    oa_households: pd.DataFrame,
    oa_census: pd.DataFrame,
    membership: pd.DataFrame,
    segment_weights: pd.Series,
    variable_weights: pd.Series,
    size: float | None = None,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Spread a group described by census variables (and segments) over areas and segments.

    Per output area, ``census(o) = Σ_v w_v x_v(o)`` members are shared among its classified
    households' segments in proportion to households; segment weights add
    ``households(o, s) × w_s``::

        expected(o, s) = households(o, s) × (w_s + census(o) / households(o))
        expected(a, s) = Σ_{o in a} expected(o, s)     (then scaled to ``size`` if given)

    Parameters
    ----------
    oa_households
        ``area_code, segment_code, households`` per output area.
    oa_census
        Output area by variable (index ``area_code``).
    membership
        ``oa_code, area_code`` for the level reported.

    Returns
    -------
    As :func:`expected_distribution`, with ``unplaced`` in the summary: members of output
    areas that have census values but no classified households (left out).
    """
    hh = oa_households.dropna(subset=["segment_code"])
    matrix = hh.pivot_table(
        index="area_code", columns="segment_code", values="households", aggfunc="sum", fill_value=0
    ).astype(float)
    census = oa_census.reindex(columns=variable_weights.index).fillna(0.0).to_numpy(
        dtype=float
    ) @ variable_weights.to_numpy(dtype=float)
    census = pd.Series(census, index=oa_census.index)
    placed = census.reindex(matrix.index).fillna(0.0).to_numpy()
    unplaced = float(census.sum() - placed.sum())
    h = matrix.to_numpy()
    row = h.sum(axis=1)
    w = segment_weights.reindex(matrix.columns).fillna(0.0).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        oa_cells = h * w + np.where(row[:, None] > 0, h * (placed / row)[:, None], 0.0)
    to_area = membership.drop_duplicates("oa_code").set_index("oa_code")["area_code"]
    areas = to_area.reindex(matrix.index)
    keep = areas.notna().to_numpy()
    level_hh = pd.DataFrame(h[keep], columns=matrix.columns).groupby(areas[keep].to_numpy()).sum()
    level_cells = (
        pd.DataFrame(oa_cells[keep], columns=matrix.columns).groupby(areas[keep].to_numpy()).sum()
    ).reindex(level_hh.index)
    all_oa_hh = oa_households.groupby("area_code")["households"].sum()
    all_hh = all_oa_hh.groupby(to_area.reindex(all_oa_hh.index).to_numpy()).sum()
    level_hh.index.name = "area_code"
    summary, by_segment, by_area = summarise_cells(
        level_hh, level_cells.to_numpy(), all_hh.reindex(level_hh.index).astype(float), w, size
    )
    summary["unplaced"] = float(round_half_away(unplaced * summary["scale"], 1))
    return summary, by_segment, by_area


def selector_profile(
    conn: Connection,
    weights: Mapping[str, Any] | None,
    *,
    variables: Mapping[str, Any] | None = None,
    size: float | None = None,
    level: str = "ward",
    classification: str | None = None,
    within: str | None = None,
    top: int | None = None,
) -> dict[str, Any]:
    """The expected distribution of a target group with no records (``expected_distribution``).

    Returns the summary with ``classification``, ``level``, ``weights_as`` (rates or
    relative), ``segments`` and ``areas`` (largest expected first; the best ``top`` when
    given).
    """
    classification = classification or default_classification(conn)
    segments = segment_codes(conn, classification)
    if not weights and not variables:
        raise InvalidRequest("`weights` and `variables` are both empty: weight segments or census variables")
    w = check_weights(weights, segments) if weights else pd.Series(0.0, index=pd.Index(segments))
    geography = resolve_geography(conn, level)
    if within is not None:
        check_area(conn, within)
    if variables:
        loaded = loaded_variables(conn)
        vw = check_variable_weights(variables, loaded)
        oa = Geography("oa")
        oa_households = households_by_area_segment(conn, oa, classification, within=within)
        if oa_households.empty:
            raise InvalidRequest("the study area has no households: check `within` and `level`")
        oa_census = census_by_area(conn, oa, [(v, None) for v in vw.index], within=within)
        summary, by_segment, by_area = census_distribution(
            oa_households, oa_census, membership(conn, geography), w, vw, size
        )
        summary["variables"] = {str(k): float(v) for k, v in vw.items()}
    else:
        households = households_by_area_segment(conn, geography, classification, within=within)
        if households.empty:
            raise InvalidRequest("the study area has no households: check `within` and `level`")
        summary, by_segment, by_area = expected_distribution(households, w, size)
    if top is not None:
        by_area = by_area.head(top)
    names = {a["code"]: a["name"] for a in area_names(conn, by_area["area_code"].tolist())}
    by_area.insert(1, "name", by_area["area_code"].map(names))
    return {
        **summary,
        "classification": classification,
        "level": geography.label,
        "within": within,
        "weights_as": "relative weights scaled to `size`"
        if size is not None
        else "members per household" + (" (segments) and per unit (variables)" if variables else ""),
        "segments": by_segment,
        "areas": by_area,
    }


def membership(conn: Connection, geography: Geography) -> pd.DataFrame:
    """``oa_code, area_code`` of every output area in the areas of ``geography``."""
    rows = conn.execute(
        text(
            "SELECT oa_code, area_code FROM area_membership WHERE level = :level "
            "AND (CAST(:set_code AS text) IS NULL OR set_code = CAST(:set_code AS text))"
        ),
        {"level": geography.level, "set_code": geography.set_code},
    ).all()
    return pd.DataFrame(rows, columns=["oa_code", "area_code"])
