"""Area queries: the standard hierarchy (oa -> lsoa -> ward -> district) and custom sets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, text

from geo.db import load_sql
from geo.errors import InvalidRequest, UnknownArea

StandardLevel = Literal["oa", "lsoa", "msoa", "ward", "district"]
STANDARD_LEVELS: tuple[str, ...] = ("oa", "lsoa", "msoa", "ward", "district")


@dataclass(frozen=True)
class Geography:
    """Which areas an analysis works on: a standard level, or every area of a custom set."""

    level: str
    set_code: str | None = None

    @property
    def label(self) -> str:
        """The name the caller used: 'ward', or the custom set's code."""
        return self.set_code if self.level == "custom" and self.set_code else self.level


def resolve_geography(conn: Connection, level_or_set: str) -> Geography:
    """Turn a caller's ``level`` (a standard level or a custom area-set code) into a Geography.

    Raises
    ------
    InvalidRequest
        If it is neither a standard level nor a known custom area set.
    """
    if level_or_set in STANDARD_LEVELS:
        return Geography(level=level_or_set)
    found = conn.execute(
        text("SELECT code FROM area_set WHERE code = :c AND kind = 'custom'"), {"c": level_or_set}
    ).scalar_one_or_none()
    if found is None:
        sets = conn.execute(text("SELECT code FROM area_set WHERE kind = 'custom' ORDER BY code")).scalars()
        choices = list(STANDARD_LEVELS) + list(sets)
        raise InvalidRequest(f"`level` was {level_or_set!r} but is expected to be one of {choices}")
    return Geography(level="custom", set_code=found)


def area_features(
    conn: Connection,
    geography: Geography,
    *,
    district_code: str | None = None,
    simplify_m: float | None = None,
    precision: int = 6,
) -> dict[str, Any]:
    """Return the areas of ``geography`` as a GeoJSON FeatureCollection in WGS84."""
    raw = conn.execute(
        load_sql("areas/features"),
        {
            "level": geography.level,
            "set_code": geography.set_code,
            "district_code": district_code,
            "code": None,
            "precision": precision,
            "simplify_m": simplify_m,
        },
    ).scalar_one()
    result: dict[str, Any] = json.loads(raw)
    return result


def area_feature(conn: Connection, code: str, *, precision: int = 6) -> dict[str, Any]:
    """Return one area as a GeoJSON Feature in WGS84.

    Raises
    ------
    UnknownArea
        If no area has this code.
    """
    raw = conn.execute(
        load_sql("areas/features"),
        {
            "level": None,
            "set_code": None,
            "district_code": None,
            "code": code,
            "precision": precision,
            "simplify_m": None,
        },
    ).scalar_one()
    features = json.loads(raw)["features"]
    if not features:
        raise UnknownArea(f"no area has the code {code!r}")
    feature: dict[str, Any] = features[0]
    return feature
