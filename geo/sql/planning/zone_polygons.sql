-- Service zones as polygons: the union of each zone's member areas (WGS84 GeoJSON out).
-- Parameters: :codes (text[], area codes), :zones (int[], the zone of each code, same order).
-- SRIDs: area.geom 27700; unions built in 27700, returned 4326.
-- Indexes: pk_area (code = ANY).
WITH member AS (
    SELECT u.code, u.zone
    FROM unnest(CAST(:codes AS text[]), CAST(:zones AS int[])) AS u(code, zone)
)
SELECT m.zone,
       ST_AsGeoJSON(ST_Transform(ST_Union(a.geom), 4326), 6) AS geojson,
       ST_Area(ST_Union(a.geom)) / 1e6 AS area_km2
FROM member m
JOIN area a ON a.code = m.code
GROUP BY m.zone
ORDER BY m.zone
