-- One isochrone band as a polygon: the concave hull of the road nodes reached within the
-- band's time, buffered so the streets at its edge are inside (WGS84 GeoJSON out).
-- Parameters: :node_ids (bigint[], nodes reached), :concavity (0..1, PostGIS pctconvex),
--   :buffer_m (metres).
-- SRIDs: road_node.geom 27700; the hull and buffer are built in 27700 metres, returned 4326.
-- Indexes: pk_road_node (id = ANY).
WITH hull AS (
    SELECT ST_Buffer(ST_ConcaveHull(ST_Collect(n.geom), :concavity), :buffer_m) AS g
    FROM road_node n
    WHERE n.id = ANY(CAST(:node_ids AS bigint[]))
)
SELECT ST_AsGeoJSON(ST_Transform(g, 4326), 6) AS geojson, ST_Area(g) / 1e6 AS area_km2
FROM hull
