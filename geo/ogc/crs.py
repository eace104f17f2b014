"""Coordinate reference systems of OGC API - Features Part 2: CRS 84 and British National Grid.

Features leave the geo functions as GeoJSON in CRS 84 (longitude, latitude: RFC 7946).
When a client asks for ``crs=http://www.opengis.net/def/crs/EPSG/0/27700`` they are
reprojected here with pyproj; EPSG:27700's axis order is easting, northing, so the
coordinates are x, y in both CRSs and no axis swap is ever needed. EPSG:4326 (latitude
first) is deliberately not offered: it is the classic source of swapped axes in clients.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from geo.errors import InvalidParameter

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
#: The CRSs a collection offers, first the default (Part 1 requires CRS 84).
SUPPORTED_CRS: tuple[str, ...] = (CRS84, BNG)
#: Where Wardwise stores geometries (``storageCrs`` of every collection).
STORAGE_CRS = BNG

_ALIASES = {
    "crs84": CRS84,
    "ogc:crs84": CRS84,
    "urn:ogc:def:crs:ogc:1.3:crs84": CRS84,
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": CRS84,
    "https://www.opengis.net/def/crs/ogc/1.3/crs84": CRS84,
    "epsg:27700": BNG,
    "urn:ogc:def:crs:epsg::27700": BNG,
    "http://www.opengis.net/def/crs/epsg/0/27700": BNG,
    "https://www.opengis.net/def/crs/epsg/0/27700": BNG,
}
#: Decimal places of output coordinates: ~0.1 m in degrees, 1 cm in metres.
DECIMALS = {CRS84: 6, BNG: 2}
_EPSG = {CRS84: "OGC:CRS84", BNG: "EPSG:27700"}


def parse_crs(value: str | None, name: str = "crs") -> str:
    """Return the canonical URI of a requested CRS (CRS 84 when None).

    Raises
    ------
    InvalidParameter
        If it is not one of :data:`SUPPORTED_CRS` (or a common spelling of one).
    """
    if value is None or value == "":
        return CRS84
    canonical = _ALIASES.get(value.strip().strip("<>").lower())
    if canonical is None:
        raise InvalidParameter(f"`{name}` was {value!r} but is expected to be one of {list(SUPPORTED_CRS)}")
    return canonical


@functools.cache
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(_EPSG[source], _EPSG[target], always_xy=True)


def transform_geometries(geoms: np.ndarray, source: str, target: str) -> np.ndarray:
    """Reproject an array of shapely geometries (x, y order in both CRSs)."""
    if source == target:
        return geoms
    transformer = _transformer(source, target)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, project))


def bbox_polygon(bbox: list[float], source: str, target: str) -> Any:
    """The bbox (in ``source``) as a polygon in ``target``, edges densified so curves follow."""
    west, south, east, north = bbox
    box = shapely.box(west, south, east, north)
    if source == target:
        return box
    step = max(east - west, north - south) / 64 or 1.0
    return transform_geometries(np.array([shapely.segmentize(box, step)]), source, target)[0]


def parse_bbox(value: str | None) -> list[float] | None:
    """Parse ``bbox=minx,miny,maxx,maxy`` (a 6-number 3-D box keeps only x and y).

    Raises
    ------
    InvalidParameter
        If it is not 4 or 6 numbers, or min exceeds max.
    """
    if value is None or value == "":
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        raise InvalidParameter(
            f"`bbox` was {value!r} but is expected to be 4 or 6 comma-separated numbers"
        ) from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(np.isfinite(numbers)):
        raise InvalidParameter(f"`bbox` was {value!r} but is expected to be 4 or 6 comma-separated numbers")
    if numbers[1] > numbers[3]:
        raise InvalidParameter(f"`bbox` was {value!r}: its minimum y is above its maximum y")
    if numbers[0] > numbers[2]:
        # Crossing the antimeridian is legal in OGC API but nowhere near a British council.
        raise InvalidParameter(f"`bbox` was {value!r}: its minimum x is east of its maximum x")
    return numbers


def content_crs_header(crs: str) -> str:
    """The ``Content-Crs`` header value (Part 2: the URI in angle brackets)."""
    return f"<{crs}>"
