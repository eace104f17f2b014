"""From source columns to Wardwise fields: mapping, value maps, parsing, row rejection."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.errors import IngestRowError
from geo.ingest.mapping import FIELDS, Mapping, auto_columns, resolve_columns


@dataclass
class Rejections:
    """Rows refused so far: row number, field, reason and the row's non-personal values."""

    rows: list[dict[str, object]] = field(default_factory=list)

    def add(self, frame: pd.DataFrame, mask: np.ndarray | pd.Series, field_name: str, reason: str) -> None:
        """Record every row of ``frame`` where ``mask`` holds (vectorised over the mask)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        bad = frame.loc[mask]
        values = bad.astype("string").fillna("").to_dict(orient="records")
        for row_number, vals in zip(bad.index.tolist(), values, strict=True):
            self.rows.append(
                {"row_number": int(row_number), "field": field_name, "reason": reason, "values": vals}
            )

    def __len__(self) -> int:
        return len(self.rows)


def plan_columns(kind: str, mapping: Mapping, columns: list[str]) -> dict[str, str]:
    """Return target field -> source column for this file, refusing missing required fields."""
    mapped = resolve_columns(mapping, columns)
    mapped.update(auto_columns(kind, columns, mapped))
    spec = FIELDS[kind]
    missing = [f for f in spec["required"] if f not in mapped and f not in mapping.constants]
    if missing:
        raise IngestRowError(
            1,
            ", ".join(missing),
            f"a column for each required field {list(spec['required'])} "
            "(name the source column in the mapping's `columns`, or fix it in `constants`)",
            f"no such column among {columns}",
        )
    return mapped


def mapped_frame(chunk: pd.DataFrame, mapped: dict[str, str], mapping: Mapping) -> pd.DataFrame:
    """The chunk's mapped columns renamed to Wardwise fields, plus the constants."""
    out = pd.DataFrame(index=chunk.index)
    for target, source in mapped.items():
        # values stay as read (text); each parser strips what it needs to
        out[target] = chunk[source].astype(object)
    for target, value in mapping.constants.items():
        if target not in out:
            out[target] = value
    return out


def apply_value_maps(
    frame: pd.DataFrame, mapping: Mapping, required: tuple[str, ...]
) -> tuple[pd.DataFrame, int]:
    """Translate mapped values (police crime type -> service).

    A value with no translation puts the row out of scope when the field is required
    (a crime type other than anti-social behaviour), and becomes missing otherwise (a
    channel wording the mapping does not know). Keys compare case-insensitively.
    """
    keep = np.ones(len(frame), dtype=bool)
    for target, table in mapping.values.items():
        if target not in frame:
            continue
        folded = {str(k).strip().lower(): v for k, v in table.items()}
        translated = on_distinct(frame[target], functools.partial(_translate, table=folded))
        if target in required:
            keep &= translated.notna().to_numpy()
        frame[target] = translated.where(translated.notna(), None)
    return frame.loc[keep], int((~keep).sum())


def on_distinct(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a vectorised text function to the distinct values only and broadcast back.

    Extracts repeat their dates, channels, service wordings and addresses thousands of
    times; pandas string methods cost a Python call per element, so this is where the
    time goes.
    """
    codes, uniques = pd.factorize(values.astype(object), sort=False)
    done = fn(pd.Series(uniques, dtype=object))
    table = np.asarray(done.to_numpy(), dtype=object)
    out = table[np.maximum(codes, 0)] if len(table) else np.full(len(values), None, dtype=object)
    out = out.copy()
    out[codes < 0] = None
    return pd.Series(out, index=values.index, dtype=object)


def _translate(values: pd.Series, table: dict[str, str]) -> pd.Series:
    return values.astype("string").str.strip().str.lower().map(table)


def parse_dates(values: pd.Series, fmt: str | None, dayfirst: bool) -> tuple[pd.Series, np.ndarray]:
    """Parse dates; return (dates as datetime64, mask of non-empty values that failed).

    With no format: ISO 8601 first (``2024-03-01``), then ``YYYY-MM`` (the 1st of the
    month, police.uk's Month), then day-first ``01/03/2024`` (or month-first if
    ``dayfirst`` is false). Each attempt is one vectorised ``to_datetime`` call, on the
    distinct values only.
    """
    codes, uniques = pd.factorize(values.astype(object), sort=False)
    parsed_u, failed_u = _parse_distinct_dates(pd.Series(uniques, dtype=object), fmt, dayfirst)
    idx = np.maximum(codes, 0)
    if len(parsed_u):
        parsed = pd.Series(parsed_u.to_numpy()[idx], index=values.index)
        failed = failed_u[idx] & (codes >= 0)
    else:
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
        failed = np.zeros(len(values), dtype=bool)
    parsed[codes < 0] = pd.NaT
    return parsed, failed


def _parse_distinct_dates(values: pd.Series, fmt: str | None, dayfirst: bool) -> tuple[pd.Series, np.ndarray]:
    text = values.astype("string").str.strip()
    empty = (text.isna() | (text == "")).to_numpy()
    if fmt:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    else:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        for attempt in ("%Y-%m", "%d/%m/%Y" if dayfirst else "%m/%d/%Y", "%d-%m-%Y", "%d.%m.%Y"):
            left = parsed.isna() & ~pd.Series(empty, index=text.index)
            if not left.any():
                break
            parsed = parsed.where(~left, pd.to_datetime(text.where(left), format=attempt, errors="coerce"))
    failed = parsed.isna().to_numpy() & ~empty
    return parsed, failed


def numeric_problems(frame: pd.DataFrame, crs: int) -> list[tuple[str, np.ndarray, str]]:
    """(field, bad mask, expectation) for coordinates that are present but not usable."""
    problems: list[tuple[str, np.ndarray, str]] = []
    bounds = {
        "longitude": (-180.0, 180.0, "a longitude in decimal degrees (-180 to 180)"),
        "latitude": (-90.0, 90.0, "a latitude in decimal degrees (-90 to 90)"),
    }
    if crs == 27700:
        bounds["x"] = (0.0, 700_000.0, "an easting in metres on the British National Grid (0 to 700000)")
        bounds["y"] = (0.0, 1_300_000.0, "a northing in metres on the British National Grid (0 to 1300000)")
    else:
        bounds["x"] = (-np.inf, np.inf, f"a number (EPSG:{crs} x)")
        bounds["y"] = (-np.inf, np.inf, f"a number (EPSG:{crs} y)")
    for name, (lo, hi, expected) in bounds.items():
        if name not in frame:
            continue
        text = frame[name].astype("string").str.strip()
        present = (text.notna() & (text != "")).to_numpy()
        number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        bad = present & (np.isnan(number) | (number < lo) | (number > hi))
        problems.append((name, bad, expected))
    return problems


def whole_numbers(
    frame: pd.DataFrame,
    name: str,
    rejections: Rejections,
    *,
    required: bool,
    what: str = "a whole number (0 or more)",
    minimum: int = 0,
    maximum: int = 2**31 - 1,
) -> tuple[pd.DataFrame, pd.Series]:
    """Parse a whole-number field; reject rows whose value is not one, naming row and field.

    ``359`` and ``359.0`` (an integer a spreadsheet wrote as a float) are 359; ``359.5``,
    ``abc`` and values below ``minimum`` are refused with the reason; an empty value is
    refused when ``required`` and otherwise stays missing. Returns the kept rows and their
    values (nullable Int64), both on the kept rows' index.
    """
    raw = frame[name].astype("string").str.strip()
    empty = (raw.isna() | (raw == "")).to_numpy()
    number = pd.to_numeric(raw.where(~empty).str.replace(",", "", regex=False), errors="coerce")
    values = number.to_numpy(dtype=float)
    non_numeric = ~empty & np.isnan(values)
    finite = ~np.isnan(values)
    fractional = finite & (np.abs(values - np.round(values)) > 1e-9)
    too_small = finite & ~fractional & (values < minimum)
    too_big = finite & ~fractional & (values > maximum)
    checks = (
        (empty & required, "is empty; expected " + what),
        (non_numeric, "is not a number; expected " + what),
        (fractional, "is not a whole number; expected " + what),
        (too_small | too_big, "is out of range; expected " + what),
    )
    bad = np.zeros(len(frame), dtype=bool)
    for mask, reason in checks:
        rejections.add(frame, mask & ~bad, name, reason)
        bad |= mask
    kept = frame.loc[~bad]
    parsed = pd.Series(np.round(values[~bad]), index=kept.index).astype("Int64")
    return kept, parsed
