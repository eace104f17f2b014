-- Best-fit parents for a standard set: each area without a parent gets the area one
-- level up (oa -> lsoa -> ward -> district) of the same set that contains its
-- ST_PointOnSurface (the ONS best-fit method: a point always inside the child).
-- Parameters: :set_code. SRID: EPSG:27700 throughout. Indexes: GiST on area.geom.
UPDATE area c
SET parent_code = (
    SELECT p.code FROM area p
    WHERE p.set_code = c.set_code
      AND p.level = CASE c.level WHEN 'oa' THEN 'lsoa' WHEN 'lsoa' THEN 'ward' WHEN 'ward' THEN 'district' END
      AND ST_Intersects(p.geom, ST_PointOnSurface(c.geom))
    ORDER BY p.code LIMIT 1
)
WHERE c.set_code = :set_code AND c.level IN ('oa', 'lsoa', 'ward') AND c.parent_code IS NULL
