"""Area-by-segment matrices: households, service use and indices per cell, with totals.

Any area level or custom area set against any classification. Each cell says how far
the segment's households in that area use a service more or less than households overall
(``index``) and how far the segment is over- or under-represented in the area
(``households_index``). Row and column totals are part of the table, so the heat table
and the downloads add up by construction.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.data import (
    Unit,
    area_counts_meta,
    check_classification,
    check_service,
    households_by_area_segment,
    resolve_tier,
    service_counts_by_area_segment,
    service_districts,
)
from geo.analysis.propensity import (
    TOTAL,
    index_confidence_interval,
    round_half_away,
    round_ratio_half_away,
    significance_flags,
)
from geo.analysis.services import default_classification, natural_unit, segment_codes
from geo.areas import Geography, resolve_geography
from geo.disclosure import DisclosurePolicy
from geo.exports import neutralise_workbook

CELL_COLUMNS: tuple[str, ...] = (
    "area_code",
    "segment",
    "households",
    "target",
    "penetration_pct",
    "index",
    "ci_low",
    "ci_high",
    "significant",
    "households_pct",
    "households_index",
)


def area_segment_matrix(
    households: pd.DataFrame,
    target: pd.DataFrame | None = None,
    *,
    areas: list[str] | None = None,
    segments: list[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The long-form matrix of cells, with row (``segment == "Total"``) and column totals.

    Parameters
    ----------
    households
        ``area_code, segment_code, households`` (as from ``households_by_area_segment``).
        Unclassified households (``segment_code`` null) are left out of the matrix.
    target
        ``area_code, segment_code, target`` service counts, or None for a households-only
        matrix (``target``, ``index`` and its interval are then null).
    areas, segments
        Row and column order (and completeness: missing cells become zeros).
    confidence
        Level of the cell indices' confidence intervals.

    Returns
    -------
    DataFrame with one row per (area, segment), then each area's total row
    (``segment == "Total"``), then the segment totals (``area_code == "Total"``) and the
    grand total, with columns ``CELL_COLUMNS``.

    Notes
    -----
    With ``h`` and ``t`` a cell's households and service count, ``H`` and ``T`` the grand
    totals, ``H_a`` the area's and ``H_s`` the segment's households::

        penetration_pct  = 100 × t / h
        index            = 100 × (t / h) / (T / H)        (use relative to all households)
        households_pct   = 100 × h / H_a                  (segment's share of the area)
        households_index = 100 × (h / H_a) / (H_s / H)    (location quotient)

    ``index`` in a segment-total row is the propensity-table index of that segment, and in
    an area-total row the area's use relative to the whole geography. Rounding is half away
    from zero from the exact count ratios (2 decimals for percentages, whole indices), as
    in :func:`geo.analysis.propensity.propensity_table`; the interval is Katz's log method
    with ``t, T, h, H``.
    """
    hh = households.dropna(subset=["segment_code"])
    area_order = areas if areas is not None else sorted(hh["area_code"].unique().tolist())
    seg_order = segments if segments is not None else sorted(hh["segment_code"].unique().tolist())
    grid = pd.MultiIndex.from_product([area_order, seg_order], names=["area_code", "segment"])

    def on_grid(frame: pd.DataFrame, column: str) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Sum ``column`` per (area, segment) into an areas × segments array in grid order."""
        cells: np.ndarray[Any, np.dtype[np.int64]] = (
            frame.groupby(["area_code", "segment_code"])[column]
            .sum()
            .rename_axis(["area_code", "segment"])
            .reindex(grid, fill_value=0)
            .to_numpy()
            .reshape(len(area_order), len(seg_order))
            .astype(np.int64)
        )
        return cells

    h = on_grid(hh, "households")
    t = on_grid(target.dropna(subset=["segment_code"]), "target") if target is not None else np.zeros_like(h)
    # Append the total column and row so every figure comes from one vectorised pass.
    h_full = np.zeros((len(area_order) + 1, len(seg_order) + 1), dtype=np.int64)
    t_full = np.zeros_like(h_full)
    h_full[:-1, :-1], t_full[:-1, :-1] = h, t
    h_full[:-1, -1], t_full[:-1, -1] = h.sum(axis=1), t.sum(axis=1)
    h_full[-1, :] = h_full[:-1, :].sum(axis=0)
    t_full[-1, :] = t_full[:-1, :].sum(axis=0)
    big_h, big_t = int(h_full[-1, -1]), int(t_full[-1, -1])
    h_area = np.repeat(h_full[:, -1:], h_full.shape[1], axis=1)
    h_seg = np.repeat(h_full[-1:, :], h_full.shape[0], axis=0)

    ho, to = h_full.astype(object), t_full.astype(object)
    index = round_ratio_half_away(100 * to * big_h, ho * big_t, 0)
    low, high = index_confidence_interval(t_full, big_t, h_full, big_h, confidence)
    # A total row is compared with the whole, of which it is part: no interval is given.
    low[:, -1], high[:, -1] = np.nan, np.nan
    low[-1, :], high[-1, :] = np.nan, np.nan
    significant = significance_flags(low, high)
    with_target = target is not None
    cells = pd.DataFrame(
        {
            "area_code": np.repeat([*area_order, TOTAL], len(seg_order) + 1),
            "segment": np.tile([*seg_order, TOTAL], len(area_order) + 1),
            "households": h_full.ravel(),
            "target": t_full.ravel() if with_target else None,
            "penetration_pct": round_ratio_half_away(100 * to, ho, 2).ravel() if with_target else np.nan,
            "index": index.ravel() if with_target else np.nan,
            "ci_low": round_half_away(low, 0).ravel() if with_target else np.nan,
            "ci_high": round_half_away(high, 0).ravel() if with_target else np.nan,
            "significant": significant.ravel() if with_target else None,
            "households_pct": round_ratio_half_away(100 * ho, h_area.astype(object), 2).ravel(),
            "households_index": round_ratio_half_away(
                100 * ho * big_h, h_area.astype(object) * h_seg.astype(object), 0
            ).ravel(),
        }
    )
    whole = ["households_index", *(["index", "ci_low", "ci_high"] if with_target else [])]
    return cells.astype(dict.fromkeys(whole, "Int64"))


def service_matrix(
    conn: Connection,
    level: str,
    classification: str | None,
    service: str | None = None,
    *,
    unit: Unit | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    channel: str | None = None,
    within: str | None = None,
    policy: DisclosurePolicy | None = None,
    tier: str | None = None,
) -> dict[str, Any]:
    """The area-by-segment matrix for a level (or custom set), classification and service.

    Returns a dict with the geography label, the unit counted, the segments (code, name,
    colour), the areas (code, name) and ``cells``: the frame of :func:`area_segment_matrix`,
    with the caller's disclosure ``policy`` applied (see :func:`disclose_cells`).
    """
    classification = resolve_tier(conn, classification or default_classification(conn), tier)
    assert classification is not None
    check_classification(conn, classification)
    geography: Geography = resolve_geography(conn, level)
    districts = service_districts(conn, service, within) if service is not None else None
    households = households_by_area_segment(
        conn, geography, classification, within=within, districts=districts
    )
    target = None
    if service is not None:
        check_service(conn, service)  # 404 for an unknown code, before its unit is looked up
        unit = unit or natural_unit(conn, service)
        target = service_counts_by_area_segment(
            conn,
            service,
            geography,
            classification,
            unit=unit,
            date_from=date_from,
            date_to=date_to,
            channel=channel,
            within=within,
        )
    segments = segment_codes(conn, classification)
    area_rows = area_names(conn, households["area_code"].unique().tolist())
    cells = area_segment_matrix(households, target, areas=[a["code"] for a in area_rows], segments=segments)
    cells = disclose_cells(
        cells,
        policy,
        {
            "households": [
                "households_pct",
                "households_index",
                "penetration_pct",
                "index",
                "ci_low",
                "ci_high",
            ],
            "target": ["penetration_pct", "index", "ci_low", "ci_high"],
        },
    )
    return {
        "level": geography.label,
        "classification": classification,
        "service": service,
        "unit": unit if service is not None else None,
        "districts": districts,
        "counts": area_counts_meta(conn, service, date_from, date_to) if service is not None else None,
        "segments": segment_meta(conn, classification),
        "areas": area_rows,
        "cells": cells,
    }


def area_names(conn: Connection, codes: list[str]) -> list[dict[str, Any]]:
    """Code and name of each area, ordered by code."""
    rows = conn.execute(
        text("SELECT code, name FROM area WHERE code = ANY(:codes) ORDER BY code"), {"codes": codes}
    ).mappings()
    return [dict(r) for r in rows]


def segment_meta(conn: Connection, classification: str) -> list[dict[str, Any]]:
    """Code, name and colour of each segment of a classification, in display order."""
    rows = conn.execute(
        text(
            "SELECT code, name, colour FROM segment WHERE classification_code = :c ORDER BY sort_order, code"
        ),
        {"c": classification},
    ).mappings()
    return [dict(r) for r in rows]


def matrix_xlsx(matrix: dict[str, Any]) -> bytes:
    """The matrix as an XLSX workbook: one wide sheet per measure, plus the long ``cells`` sheet.

    Wide sheets have areas as rows and segments as columns, with the ``Total`` row and
    column; suppressed counts appear as their label (``"<5"``), exactly as in the JSON.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    cells: pd.DataFrame = matrix["cells"]
    names = {a["code"]: a["name"] for a in matrix["areas"]}
    names[TOTAL] = TOTAL
    measures = ["households", "households_index"]
    if matrix.get("service"):
        measures = ["households", "target", "penetration_pct", "index", "households_index"]
    workbook = Workbook()
    first = True
    for measure in measures:
        sheet = workbook.active if first else workbook.create_sheet()
        first = False
        sheet.title = measure
        wide = cells.pivot(index="area_code", columns="segment", values=measure)
        seg_order = [c for c in cells["segment"].drop_duplicates() if c in wide.columns]
        area_order = [a for a in cells["area_code"].drop_duplicates() if a in wide.index]
        wide = wide.loc[area_order, seg_order]
        sheet.append(["area_code", "area_name", *seg_order])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for code, values in zip(wide.index, wide.to_numpy().tolist(), strict=True):
            sheet.append([code, names.get(code, code), *[_xlsx_value(v) for v in values]])
    sheet = workbook.create_sheet("cells")
    sheet.append(list(cells.columns))
    for row in cells.itertuples(index=False, name=None):
        sheet.append([_xlsx_value(v) for v in row])
    neutralise_workbook(workbook)  # ingested names never become formulas (geo/exports.py)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def disclose_cells(
    cells: pd.DataFrame,
    policy: DisclosurePolicy | None,
    counts: dict[str, list[str]],
    *,
    row: str = "area_code",
    column: str = "segment",
) -> pd.DataFrame:
    """Apply a public caller's disclosure policy to a long table whose totals are ``Total`` rows.

    Parameters
    ----------
    cells
        Long table with one row per (``row``, ``column``) pair, totals included as rows
        whose ``row`` or ``column`` is ``"Total"``.
    policy
        The caller's policy; None (officers) returns ``cells`` unchanged.
    counts
        For each count column, the columns derived from it (they become None wherever the
        count is hidden, and are scaled with it when counts are rounded to a base).

    Notes
    -----
    Each count is pivoted to its 2-D table and protected by
    :meth:`geo.disclosure.DisclosurePolicy.matrix` (primary suppression of 1..threshold and
    secondary suppression so that no row or column, totals included, has a single hidden
    entry); ``significant`` becomes None wherever any count of the row is hidden.
    """
    if policy is None:
        return cells
    out = cells.copy()
    inner = (out[row] != TOTAL) & (out[column] != TOTAL)
    any_hidden = np.zeros(len(out), dtype=bool)
    whole_columns = {c for c in out.columns if str(out[c].dtype) == "Int64"}
    for count, deps in counts.items():
        if out[count].isna().all():
            continue
        table = out[inner].pivot(index=row, columns=column, values=count).fillna(0)
        labelled = policy.matrix(table).rename(index={"total": TOTAL}, columns={"total": TOTAL})
        keys = pd.MultiIndex.from_arrays([out[row], out[column]])
        shown = labelled.stack().reindex(keys).to_numpy()
        hidden = np.array([isinstance(v, str) for v in shown], dtype=bool)
        raw = pd.to_numeric(out[count], errors="coerce").to_numpy(dtype=float)
        numeric = np.where(
            hidden, np.nan, pd.to_numeric(pd.Series(shown), errors="coerce").to_numpy(dtype=float)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(raw > 0, numeric / raw, 1.0)
        for dep in deps:
            column_values = out[dep].astype(object)
            if policy.round_to_base is not None:
                # Rounded counts: scale what derives from them so it cannot undo the rounding.
                values = pd.to_numeric(out[dep], errors="coerce").to_numpy(dtype=float)
                whole = dep in whole_columns
                scaled = round_half_away(values * factor, 0 if whole else 2)
                items = [None if np.isnan(v) else (int(v) if whole else float(v)) for v in scaled]
                column_values = pd.Series(items, index=out.index, dtype=object)
            column_values[hidden | out[dep].isna().to_numpy()] = None
            out[dep] = column_values
        out[count] = pd.Series(shown, index=out.index, dtype=object)
        any_hidden |= hidden
    if "significant" in out.columns:
        out["significant"] = out["significant"].astype(object)
        out.loc[any_hidden, "significant"] = None
    return out


def disclose_columns(
    frame: pd.DataFrame, policy: DisclosurePolicy | None, counts: dict[str, list[str]]
) -> pd.DataFrame:
    """Suppress small counts column by column (no totals to protect), hiding what derives from them.

    Derived columns keep their values and types where the count is shown and become None
    where it is hidden (and are scaled when counts are rounded to a base, as in
    :func:`disclose_cells`); ``significant`` becomes None with them.
    """
    if policy is None or frame.empty:
        return frame
    cells = frame.assign(_row=np.arange(len(frame)).astype(str), _column="all")
    out = cells
    for count, deps in counts.items():
        shown = policy.columns(out[[count]], [count])[count]
        hidden = np.array([isinstance(v, str) for v in shown], dtype=bool)
        # Each value is its own one-cell table: protect it like a matrix cell, no secondary.
        out = out.copy()
        for dep in [*deps, *(["significant"] if "significant" in out.columns else [])]:
            column = out[dep].astype(object)
            if policy.round_to_base is not None and dep != "significant":
                raw = pd.to_numeric(out[count], errors="coerce").to_numpy(dtype=float)
                numeric = pd.to_numeric(shown.where(~hidden), errors="coerce").to_numpy(dtype=float)
                with np.errstate(divide="ignore", invalid="ignore"):
                    factor = np.where(raw > 0, numeric / raw, 1.0)
                values = pd.to_numeric(out[dep], errors="coerce").to_numpy(dtype=float) * factor
                column = pd.Series(list(round_half_away(values, 2)), index=out.index, dtype=object)
            column[hidden | out[dep].isna().to_numpy()] = None
            out[dep] = column
        out[count] = shown
    return out.drop(columns=["_row", "_column"])
