"""OGC API - Tiles over the existing vector tiles: WebMercatorQuad, tilesets, tileset metadata.

The tiles themselves are the ``/tiles/{layer}/{z}/{x}/{y}.pbf`` ones (same cache, same
disclosure); OGC only renames the address: ``{tileMatrix}/{tileRow}/{tileCol}`` is
``{z}/{y}/{x}`` (row before column).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from geo.errors import NotFound
from geo.ogc.features import JSON, Collection, get_collection
from geo.tiles import MAX_ZOOM, MERCATOR_HALF, district_bounds, get_layer, tiles_covering

MVT = "application/vnd.mapbox-vector-tile"
WEB_MERCATOR_QUAD = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
WEB_MERCATOR = "http://www.opengis.net/def/crs/EPSG/0/3857"
#: OGC's standardised rendering pixel (0.28 mm) gives this scale at zoom 0 for 256-pixel tiles.
SCALE_Z0 = 559082264.028717
TILE_SIZE = 256


class UnknownTileMatrixSet(NotFound):
    """Only WebMercatorQuad is offered."""


def check_tile_matrix_set(tms: str) -> None:
    """Raise UnknownTileMatrixSet unless ``tms`` is WebMercatorQuad."""
    if tms != WEB_MERCATOR_QUAD:
        raise UnknownTileMatrixSet(
            f"`tileMatrixSetId` was {tms!r} but is expected to be {WEB_MERCATOR_QUAD!r}"
        )


def tile_matrix_set() -> dict[str, Any]:
    """The WebMercatorQuad definition (OGC TileMatrixSet 2.0 JSON), zooms 0 to ``MAX_ZOOM``.

    Notes
    -----
    At zoom ``z`` the matrix is ``2**z`` tiles square; a cell (pixel) is
    ``2 * 20037508.3427892 / 256 / 2**z`` metres and the scale denominator is that over
    0.28 mm (OGC 17-083r4, Annex D.1).
    """
    matrices = []
    for z in range(MAX_ZOOM + 1):
        n = 1 << z
        cell = 2 * MERCATOR_HALF / TILE_SIZE / n
        matrices.append(
            {
                "id": str(z),
                "scaleDenominator": cell / 0.00028,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-MERCATOR_HALF, MERCATOR_HALF],
                "tileWidth": TILE_SIZE,
                "tileHeight": TILE_SIZE,
                "matrixWidth": n,
                "matrixHeight": n,
            }
        )
    return {
        "id": WEB_MERCATOR_QUAD,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": WEB_MERCATOR,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    }


def tile_matrix_sets(base: str) -> dict[str, Any]:
    """The ``/tileMatrixSets`` list."""
    return {
        "tileMatrixSets": [
            {
                "id": WEB_MERCATOR_QUAD,
                "title": "Google Maps Compatible for the World",
                "uri": TMS_URI,
                "links": [
                    {
                        "href": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}",
                        "rel": "self",
                        "type": JSON,
                        "title": "WebMercatorQuad definition",
                    }
                ],
            }
        ]
    }


def _tiled(conn: Connection, collection_id: str) -> Collection:
    spec = get_collection(conn, collection_id)
    if spec.tile_layer is None:
        raise NotFound(f"collection {spec.id!r} has no vector tiles (its features are at /items)")
    return spec


def tile_template(base: str, spec: Collection) -> str:
    """The OGC tile URL template of a collection (``service`` carried for hot-spot layers)."""
    return f"{base}/collections/{spec.id}/tiles/{WEB_MERCATOR_QUAD}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"


def tilejson_href(root: str, spec: Collection) -> str:
    """The existing TileJSON of the collection's tile layer (same tiles, xyz addresses)."""
    query = f"?service={spec.tile_service}" if spec.tile_service else ""
    return f"{root}/tiles/{spec.tile_layer}.json{query}"


def tilesets(conn: Connection, collection_id: str, base: str, root: str) -> dict[str, Any]:
    """The ``/collections/{id}/tiles`` list: one vector tileset in WebMercatorQuad."""
    spec = _tiled(conn, collection_id)
    url = f"{base}/collections/{spec.id}/tiles/{WEB_MERCATOR_QUAD}"
    return {
        "links": [{"href": f"{base}/collections/{spec.id}/tiles", "rel": "self", "type": JSON}],
        "tilesets": [
            {
                "title": spec.title,
                "dataType": "vector",
                "crs": WEB_MERCATOR,
                "tileMatrixSetURI": TMS_URI,
                "links": [
                    {"href": url, "rel": "self", "type": JSON, "title": "Tileset metadata"},
                    {
                        "href": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}",
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                        "type": JSON,
                    },
                ],
            }
        ],
    }


def tileset(conn: Connection, collection_id: str, base: str, root: str) -> dict[str, Any]:
    """Tileset metadata: the tile template, zoom limits over the data, the layer's fields."""
    spec = _tiled(conn, collection_id)
    assert spec.tile_layer is not None
    layer = get_layer(conn, spec.tile_layer)
    bounds, _ = district_bounds(conn)
    limits = []
    for z in range(layer.minzoom, layer.maxzoom + 1):
        cells = tiles_covering(bounds, z)
        cols = [x for _, x, _ in cells]
        rows = [y for _, _, y in cells]
        limits.append(
            {
                "tileMatrix": str(z),
                "minTileRow": min(rows),
                "maxTileRow": max(rows),
                "minTileCol": min(cols),
                "maxTileCol": max(cols),
            }
        )
    url = f"{base}/collections/{spec.id}/tiles/{WEB_MERCATOR_QUAD}"
    return {
        "title": spec.title,
        "description": layer.description,
        "dataType": "vector",
        "crs": WEB_MERCATOR,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            {"href": url, "rel": "self", "type": JSON, "title": "This tileset"},
            {
                "href": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                "type": JSON,
                "title": "WebMercatorQuad",
            },
            {
                "href": tile_template(base, spec),
                "rel": "item",
                "type": MVT,
                "templated": True,
                "title": "Mapbox vector tiles",
            },
            {
                "href": tilejson_href(root, spec),
                "rel": "alternate",
                "type": "application/vnd.mapbox.tile+json",
                "title": "TileJSON",
            },
            {"href": f"{base}/collections/{spec.id}", "rel": "collection", "type": JSON},
        ],
        "tileMatrixSetLimits": limits,
        "boundingBox": {"lowerLeft": bounds[:2], "upperRight": bounds[2:], "crs": CRS84_URI},
        "layers": [
            {
                "id": layer.name,
                "title": layer.title,
                "dataType": "vector",
                "geometryDimension": {"point": 0, "line": 1, "polygon": 2}[layer.geometry],
                "minTileMatrix": str(layer.minzoom),
                "maxTileMatrix": str(layer.maxzoom),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {k: {"description": v} for k, v in layer.fields.items()},
                },
            }
        ],
    }


CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def tile_layer_of(conn: Connection, collection_id: str) -> tuple[str, str | None]:
    """The existing tile layer (and ``service``) behind a collection's OGC tiles."""
    spec = _tiled(conn, collection_id)
    assert spec.tile_layer is not None
    return spec.tile_layer, spec.tile_service
