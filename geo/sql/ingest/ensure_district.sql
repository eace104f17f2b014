-- Create the district area of a standard set as the union of its wards (or, without
-- wards, of its other areas) when the boundary file did not hold one, and stamp the
-- district code on every area of the set.
-- Parameters: :set_code, :code, :name. SRID: EPSG:27700 in, 3857 copy derived.
-- Indexes: ix_area_set_code.
INSERT INTO area (code, name, level, set_code, parent_code, district_code, households, area_km2, geom, geom_3857)
SELECT CAST(:code AS text), CAST(:name AS text), 'district', CAST(:set_code AS text), NULL, CAST(:code AS text), 0, ST_Area(u.g) / 1e6, ST_Multi(u.g), ST_Multi(ST_Transform(u.g, 3857))
FROM (
    SELECT ST_CollectionExtract(ST_Union(geom), 3) AS g
    FROM area
    WHERE set_code = CAST(:set_code AS text)
      AND level = (SELECT level FROM area WHERE set_code = CAST(:set_code AS text) AND level <> 'district'
                   ORDER BY array_position(ARRAY['ward', 'lsoa', 'oa'], level) LIMIT 1)
) u
WHERE u.g IS NOT NULL AND NOT EXISTS (SELECT 1 FROM area WHERE code = CAST(:code AS text));

UPDATE area SET district_code = CAST(:code AS text)
WHERE set_code = CAST(:set_code AS text) AND district_code IS DISTINCT FROM CAST(:code AS text)
