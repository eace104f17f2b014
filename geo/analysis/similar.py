"""Similar areas: the areas of the same level whose mix of households is closest to an area's.

Each area is described by its households' shares over the segments of one classification
(the same vector the ward-by-segment matrix shows). Two distances are offered:

* **Hellinger** (default): ``H(p, q) = sqrt(½ Σ_s (√p_s − √q_s)²)``, from 0 (identical
  mix) to 1 (no segment in common). The square roots give small segments a fair say, and
  the distance is a proper metric on distributions (Le Cam and Yang, *Asymptotics in
  Statistics*, 2000, §3.2; Rao, 1995, for its use with compositional data).
* **Euclidean** on the shares, in percentage points: ``sqrt(Σ_s (100 p_s − 100 q_s)²)``,
  the distance the ONS used to find nearest-neighbour areas before its 2021 tool.

Any classification loaded (the household one, or OAC per output area) can be chosen.

**By census variables** (``by="census"``, when an area-statistics file with ``variables``
is loaded, :mod:`geo.analysis.census`): each variable (or ratio ``a/b``) is standardised
to z-scores over the areas compared, ``z_v(a) = (x_v(a) − mean_v) / sd_v`` (population
sd), and the distance is Euclidean on the z-scores, ``sqrt(Σ_v (z_v(a) − z_v(b))²)``, in
standard deviations; similarity is ``1 − distance / the largest distance from the area to
any candidate``. Areas missing a variable are not compared.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.census import (
    areas_within,
    census_by_area,
    loaded_variables,
    parse_variables,
    standardised,
)
from geo.analysis.data import households_by_area_segment
from geo.analysis.matrix import area_names
from geo.analysis.propensity import round_half_away
from geo.analysis.services import check_area, default_classification
from geo.areas import Geography
from geo.errors import InvalidRequest

Distance = Literal["hellinger", "euclidean"]
By = Literal["segments", "census"]
DISTANCES: tuple[str, ...] = ("hellinger", "euclidean")
DESCRIPTIONS: dict[str, str] = {
    "hellinger": "Hellinger distance between segment shares: "
    "sqrt(0.5 * sum_s (sqrt(p_s) - sqrt(q_s))^2), 0..1",
    "euclidean": "Euclidean distance between segment shares in percentage points: "
    "sqrt(sum_s (100 p_s - 100 q_s)^2)",
}


def segment_shares(households: pd.DataFrame) -> pd.DataFrame:
    """Area-by-segment shares of households (rows sum to 1; unclassified and empty areas left out).

    Parameters
    ----------
    households
        ``area_code, segment_code, households`` (``data.households_by_area_segment``).
    """
    classified = households.dropna(subset=["segment_code"])
    counts = classified.pivot_table(
        index="area_code", columns="segment_code", values="households", aggfunc="sum", fill_value=0
    ).astype(float)
    totals = counts.sum(axis=1)
    counts = counts[totals > 0]
    return counts.div(counts.sum(axis=1), axis=0)


def mix_distances(shares: pd.DataFrame, code: str, distance: Distance = "hellinger") -> pd.Series:
    """Distance from area ``code``'s segment mix to every area's in ``shares`` (itself included, 0).

    Notes
    -----
    Vectorised over areas: one ``(n_areas × n_segments)`` array operation.
    """
    if distance not in DISTANCES:
        raise InvalidRequest(f"`distance` was {distance!r} but is expected to be one of {list(DISTANCES)}")
    if code not in shares.index:
        raise InvalidRequest(f"`area` {code!r} has no classified households, so it has no segment mix")
    p = shares.to_numpy(dtype=float)
    q = shares.loc[code].to_numpy(dtype=float)
    if distance == "hellinger":
        d = np.sqrt(0.5 * ((np.sqrt(p) - np.sqrt(q)) ** 2).sum(axis=1))
    else:
        d = np.sqrt(((100 * p - 100 * q) ** 2).sum(axis=1))
    return pd.Series(d, index=shares.index, name="distance")


def most_similar(
    shares: pd.DataFrame, code: str, k: int = 5, distance: Distance = "hellinger"
) -> pd.DataFrame:
    """The ``k`` areas closest to ``code`` by segment mix (``code`` itself excluded), closest first.

    Returns ``area_code, distance, similarity`` (``1 - distance`` for Hellinger, and
    ``1 - distance / (100 √2)`` for Euclidean, the largest distance two mixes can have),
    ties broken by area code.
    """
    if k < 1:
        raise InvalidRequest(f"`k` was {k!r} but is expected to be at least 1")
    d = mix_distances(shares, code, distance).drop(index=code)
    frame = d.rename_axis("area_code").reset_index()
    frame = frame.sort_values(["distance", "area_code"], kind="stable", ignore_index=True).head(k)
    top = 1.0 if distance == "hellinger" else 100 * np.sqrt(2)
    frame["similarity"] = 1 - frame["distance"] / top
    return frame


def similar_areas(
    conn: Connection,
    code: str,
    *,
    k: int = 5,
    classification: str | None = None,
    distance: Distance = "hellinger",
    within: str | None = None,
    by: By = "segments",
    variables: list[str] | None = None,
) -> dict[str, Any]:
    """The ``k`` areas of ``code``'s level most like it by segment mix, with the distance stated.

    Parameters
    ----------
    code
        Any area (OA, LSOA, ward, district or a custom area).
    k
        How many similar areas to return.
    classification
        The classification whose segment shares are compared (default: the household one).
    distance
        ``hellinger`` or ``euclidean`` (module docstring).
    within
        Only compare with areas inside this area (for instance the same district);
        None compares with every area of the level that has classified households.
    by
        ``segments`` (the mix, ``distance``) or ``census`` (standardised census
        variables, Euclidean; :func:`similar_by_census`).
    variables
        With ``by="census"``: the variables or ratios ``a/b`` compared (default all loaded).

    Returns
    -------
    ``{"area", "classification", "distance", "distance_definition", "candidates", "mix",
    "similar"}``: ``mix`` is the area's own shares (%), and each similar area carries its
    code, name, households, distance, similarity and the segments where its share differs
    most from the area's (percentage points).
    """
    area = check_area(conn, code)
    if area["level"] == "custom":
        geography = Geography("custom", area["set_code"])
    else:
        geography = Geography(area["level"])
    if by == "census":
        return similar_by_census(conn, area, geography, k=k, variables=variables, within=within)
    if by != "segments":
        raise InvalidRequest(f"`by` was {by!r} but is expected to be 'segments' or 'census'")
    classification = classification or default_classification(conn)
    households = households_by_area_segment(conn, geography, classification)
    shares = segment_shares(households)
    if within is not None:
        check_area(conn, within)
        inside = set(households_by_area_segment(conn, geography, classification, within=within)["area_code"])
        shares = shares.loc[[c for c in shares.index if c in inside or c == code]]
    best = most_similar(shares, code, k, distance)
    totals = households.groupby("area_code")["households"].sum()
    names = {a["code"]: a["name"] for a in area_names(conn, best["area_code"].tolist())}
    own = shares.loc[code]
    similar: list[dict[str, Any]] = []
    for row in best.itertuples(index=False):
        diff = (shares.loc[row.area_code] - own) * 100
        order = diff.abs().sort_values(ascending=False, kind="stable").index[:3]
        similar.append(
            {
                "code": row.area_code,
                "name": names.get(row.area_code, row.area_code),
                "households": int(totals.get(row.area_code, 0)),
                "distance": float(round_half_away(row.distance, 4)),
                "similarity": float(round_half_away(row.similarity, 4)),
                "largest_differences": [
                    {"segment": str(s), "difference_pp": float(round_half_away(diff[s], 2))} for s in order
                ],
            }
        )
    return {
        "area": {"code": area["code"], "name": area["name"], "level": area["level"]},
        "by": "segments",
        "classification": classification,
        "distance": distance,
        "distance_definition": DESCRIPTIONS[distance],
        "candidates": int(len(shares) - 1),
        "mix": {str(s): float(round_half_away(100 * v, 2)) for s, v in own.items()},
        "similar": similar,
    }


def census_distances(table: pd.DataFrame, code: str) -> pd.Series:
    """Euclidean distance on z-scores (over ``table``'s rows) from ``code`` to every area."""
    z = standardised(table)
    d = np.sqrt(((z.to_numpy() - z.loc[code].to_numpy()) ** 2).sum(axis=1))
    return pd.Series(d, index=table.index, name="distance")


def similar_by_census(
    conn: Connection,
    area: dict[str, Any],
    geography: Geography,
    *,
    k: int = 5,
    variables: list[str] | None = None,
    within: str | None = None,
) -> dict[str, Any]:
    """The ``k`` areas most like ``area`` by standardised census variables (module docstring)."""
    if k < 1:
        raise InvalidRequest(f"`k` was {k!r} but is expected to be at least 1")
    code = area["code"]
    specs = parse_variables(variables, loaded_variables(conn))
    table = census_by_area(conn, geography, specs)
    if within is not None:
        check_area(conn, within)
        inside = areas_within(conn, geography, within)
        table = table.loc[[c for c in table.index if c in inside or c == code]]
    if code not in table.index or table.loc[code].isna().any():
        missing = (
            list(table.columns) if code not in table.index else list(table.columns[table.loc[code].isna()])
        )
        raise InvalidRequest(f"`area` {code!r} has no value of the census variables {missing}")
    table = table.dropna()
    d = census_distances(table, code)
    far = float(d.max()) or 1.0
    best = (
        d.drop(index=code)
        .rename_axis("area_code")
        .reset_index()
        .sort_values(["distance", "area_code"], kind="stable", ignore_index=True)
        .head(k)
    )
    z = standardised(table)
    names = {a["code"]: a["name"] for a in area_names(conn, best["area_code"].tolist())}
    households = dict(
        conn.execute(
            text("SELECT code, households FROM area WHERE code = ANY(:c)"), {"c": best["area_code"].tolist()}
        ).all()
    )
    similar: list[dict[str, Any]] = []
    for row in best.itertuples(index=False):
        diff = z.loc[row.area_code] - z.loc[code]
        order = diff.abs().sort_values(ascending=False, kind="stable").index[:3]
        similar.append(
            {
                "code": row.area_code,
                "name": names.get(row.area_code, row.area_code),
                "households": int(households.get(row.area_code) or 0),
                "distance": float(round_half_away(row.distance, 4)),
                "similarity": float(round_half_away(1 - row.distance / far, 4)),
                "largest_differences": [
                    {"variable": str(v), "difference_sd": float(round_half_away(diff[v], 2))} for v in order
                ],
                "values": {
                    str(v): float(round_half_away(table.loc[row.area_code, v], 4)) for v in table.columns
                },
            }
        )
    return {
        "area": {"code": code, "name": area["name"], "level": area["level"]},
        "by": "census",
        "classification": None,
        "variables": list(table.columns),
        "distance": "euclidean",
        "distance_definition": (
            f"Euclidean distance between census variables standardised to z-scores over the {len(table)} "
            "areas compared: sqrt(sum_v (z_v(a) - z_v(b))^2), z_v = (x_v - mean_v) / sd_v (population sd); "
            "similarity = 1 - distance / the largest distance from the area to any candidate"
        ),
        "candidates": int(len(table) - 1),
        "mix": {},
        "values": {str(v): float(round_half_away(table.loc[code, v], 4)) for v in table.columns},
        "similar": similar,
    }
