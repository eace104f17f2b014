-- Areas of the same level (and set) whose boundaries touch the given area: its neighbours.
-- ST_Intersects on the GiST index narrows candidates; ST_Touches keeps only areas that
-- share boundary but no interior (identical or overlapping custom areas are excluded).
-- Parameters: :code (the area). SRIDs: 27700 (both geometries stored in 27700).
-- Indexes: pk_area, the GiST index on area.geom.
SELECT n.code, n.name, n.level, n.households
FROM area a
JOIN area n ON n.level = a.level AND n.set_code = a.set_code AND n.code <> a.code
           AND n.geom && a.geom AND ST_Touches(n.geom, a.geom)
WHERE a.code = :code
ORDER BY n.code
