"""Census variables per area: loaded by ``wardwise ingest area-statistics`` with ``variables``.

A variable is a number per area (usual residents, residents in communal establishments,
households); at a coarser level an area's value is the sum over its output areas that
have one, unless the file gave the area's own value. A *ratio* ``a/b`` (for instance
``residents_in_communal_establishments/usual_residents``) is computed from those sums,
so it is the area's true share, not a mean of its OAs' shares.

Used by :mod:`geo.analysis.similar` (similar areas by standardised census variables) and
:mod:`geo.analysis.selector` (a target group described by weighted census variables).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.areas import Geography
from geo.db import load_sql
from geo.errors import InvalidRequest


def loaded_variables(conn: Connection) -> list[str]:
    """The names of the census variables loaded, sorted."""
    return [
        str(v) for v in conn.execute(text("SELECT DISTINCT variable FROM area_variable ORDER BY 1")).scalars()
    ]


def parse_variables(
    specs: list[str] | None, loaded: list[str], *, ratios: bool = True
) -> list[tuple[str, str | None]]:
    """Check the variables asked for: ``name`` or ``name/denominator`` (both loaded).

    Returns ``[(numerator, denominator or None)]``; None or [] means every loaded variable.
    """
    if not loaded:
        raise InvalidRequest(
            "no census variables are loaded: load an area-statistics file with `variables` "
            "(`wardwise ingest area-statistics FILE --mapping ...`, docs/insight.md)"
        )
    specs = list(specs or loaded)
    out: list[tuple[str, str | None]] = []
    for spec in specs:
        parts = [p.strip() for p in str(spec).split("/")]
        if len(parts) > 2 or (len(parts) == 2 and not ratios):
            expected = "a variable or a ratio `a/b`" if ratios else "a variable (a count, not a ratio)"
            raise InvalidRequest(f"`variables` has {spec!r} but is expected to hold {expected}")
        unknown = [p for p in parts if p not in loaded]
        if unknown:
            raise InvalidRequest(
                f"`variables` has {spec!r} but {unknown} is not loaded; expected variables among {loaded}"
            )
        out.append((parts[0], parts[1] if len(parts) == 2 else None))
    return out


def spec_name(numerator: str, denominator: str | None) -> str:
    """``a`` or ``a/b``: the column name of a variable or ratio."""
    return numerator if denominator is None else f"{numerator}/{denominator}"


def census_by_area(
    conn: Connection,
    geography: Geography,
    specs: list[tuple[str, str | None]],
    *,
    within: str | None = None,
) -> pd.DataFrame:
    """Area-by-variable table (index ``area_code``; one column per variable or ratio).

    An area missing a variable (or whose ratio has a zero denominator) has NaN there.
    """
    names = sorted({n for pair in specs for n in pair if n is not None})
    rows = conn.execute(
        load_sql("analysis/census_by_area"),
        {"variables": names, "level": geography.level, "set_code": geography.set_code, "within": within},
    ).all()
    long = pd.DataFrame(rows, columns=["area_code", "variable", "value"])
    wide = (
        long.pivot(index="area_code", columns="variable", values="value").reindex(columns=names).astype(float)
    )
    out = pd.DataFrame(index=wide.index)
    for num, den in specs:
        if den is None:
            out[spec_name(num, den)] = wide[num]
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = wide[num] / wide[den]
            out[spec_name(num, den)] = ratio.where(np.isfinite(ratio))
    return out


def standardised(table: pd.DataFrame) -> pd.DataFrame:
    """z-scores per column over the rows: ``(x - mean) / sd`` (population sd, ddof=0).

    A column with no spread (sd 0) carries no information and scores 0 everywhere.
    """
    mean = table.mean(axis=0)
    sd = table.std(axis=0, ddof=0)
    z = (table - mean) / sd.where(sd > 0)
    return z.fillna(0.0)


def areas_within(conn: Connection, geography: Geography, within: str) -> set[str]:
    """Areas of ``geography`` holding at least one output area inside ``within``."""
    return set(
        conn.execute(
            text(
                "SELECT DISTINCT m.area_code FROM area_membership m WHERE m.level = :level "
                "AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text)) "
                "AND m.oa_code IN (SELECT w.oa_code FROM area_membership w WHERE w.area_code = :within)"
            ),
            {"level": geography.level, "set_code": geography.set_code, "within": within},
        ).scalars()
    )
