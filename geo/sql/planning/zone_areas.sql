-- The areas that service zones are built from: every output area or LSOA of the study,
-- with its polygon (for contiguity) and a representative point (for compactness).
-- Parameters: :level ('oa' or 'lsoa').
-- SRIDs: area.geom 27700; geometry returned as WKB in 27700, x, y in metres (27700).
-- Indexes: ix_area_level.
SELECT a.code,
       a.name,
       ST_X(ST_PointOnSurface(a.geom)) AS x,
       ST_Y(ST_PointOnSurface(a.geom)) AS y,
       a.geom
FROM area a
WHERE a.level = :level AND a.geom IS NOT NULL
ORDER BY a.code
