-- The output area holding each staged point (the ladder's coordinates step).
-- Parameters: none; reads the session's temp table ingest_points(idx, x, y).
-- SRID: x, y are EPSG:27700 metres, compared with area.geom (27700) without transforming.
-- Indexes: the GiST index on area.geom (ST_Intersects uses it); a point on a shared
-- boundary goes to the lowest OA code, so every point gets at most one OA.
SELECT DISTINCT ON (p.idx) p.idx, a.code AS oa_code
FROM ingest_points p
JOIN area a
  ON a.level = 'oa'
 AND ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 27700))
ORDER BY p.idx, a.code
