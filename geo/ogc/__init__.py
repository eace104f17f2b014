"""OGC API - Features and Tiles over Wardwise's answers; the landing page and conformance."""

from __future__ import annotations

from typing import Any

#: The conformance classes declared: only those implemented here and read by the clients
#: tested (GDAL's OAPIF driver, OWSLib). The OpenAPI document is 3.1, so ``oas30`` is not
#: claimed; there is no HTML encoding.
CONFORMANCE: tuple[str, ...] = (
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
)

JSON = "application/json"


def landing_page(base: str, root: str) -> dict[str, Any]:
    """The OGC API landing page at ``base`` (``root`` is the server root, for the API document)."""
    return {
        "title": "Wardwise",
        "description": (
            "Areas, sites and analysis results of Wardwise as OGC API - Features collections "
            "(GeoJSON, CRS 84 or British National Grid) and OGC API - Tiles (Mapbox vector tiles). "
            "Small counts are suppressed for callers without an officer key, exactly as in the REST API."
        ),
        "links": [
            {"href": base, "rel": "self", "type": JSON, "title": "This document"},
            {
                "href": f"{root}/openapi.json",
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.1",
                "title": "The API definition (OpenAPI 3.1)",
            },
            {
                "href": f"{root}/docs",
                "rel": "service-doc",
                "type": "text/html",
                "title": "The API documentation",
            },
            {
                "href": f"{base}/conformance",
                "rel": "conformance",
                "type": JSON,
                "title": "Conformance classes implemented",
            },
            {"href": f"{base}/collections", "rel": "data", "type": JSON, "title": "The collections"},
            {
                "href": f"{base}/tileMatrixSets",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                "type": JSON,
                "title": "Tile matrix sets",
            },
        ],
    }


def conformance() -> dict[str, Any]:
    """The ``/conformance`` document."""
    return {"conformsTo": list(CONFORMANCE)}
