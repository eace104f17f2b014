-- A representative point (ST_PointOnSurface: always inside the polygon) and the name
-- of each listed area, for k-nearest and distance-band weights and for labels.
-- Parameters: :codes (text[] of area codes).
-- SRIDs: output x, y in 27700 (metres), as stored.
-- Indexes: pk_area.
SELECT a.code, a.name, ST_X(p.pt) AS x, ST_Y(p.pt) AS y
FROM area a
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(a.geom) AS pt) p
WHERE a.code = ANY(CAST(:codes AS text[]))
ORDER BY a.code
