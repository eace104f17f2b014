-- An area's neighbours from the stored pairs: same level and set, sharing boundary but no
-- interior (as analysis/touching_areas.sql computes it with ST_Touches).
-- Parameters: :code, :geography. No geometry.
-- Indexes: pk_area_neighbour (geography, code, ...), pk_area.
SELECT n.code, n.name, n.level, n.households
FROM area a
JOIN area_neighbour p ON p.geography = CAST(:geography AS text) AND p.code = a.code AND p.touches
JOIN area n ON n.code = p.neighbour_code AND n.set_code = a.set_code
WHERE a.code = :code
ORDER BY n.code
