-- The map's context, offline: a label point for every ward (a point on its surface, so it
-- always lies inside the ward) and the district outlines, in WGS84 for deck.gl.
-- Parameters: none. SRIDs: area.geom_3857 (EPSG:3857) to EPSG:4326. Index: ix_area_level.
SELECT a.level, a.code, a.name,
       ST_X(p) AS lon, ST_Y(p) AS lat,
       CASE WHEN a.level = 'district'
            THEN ST_AsGeoJSON(ST_Transform(ST_Boundary(ST_Simplify(a.geom_3857, 10)), 4326), 6) END AS outline
FROM area a,
     LATERAL (SELECT ST_Transform(ST_PointOnSurface(a.geom_3857), 4326) AS p) q
WHERE a.level IN ('ward', 'district')
ORDER BY a.level, a.code
