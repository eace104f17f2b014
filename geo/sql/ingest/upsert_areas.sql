-- Areas from the staged batch, with their web-mercator copy and area in km2.
-- Parameters: none (reads the session's staging table).
-- SRID: staged geom is EPSG:27700 (readers reproject); geom_3857 by ST_Transform.
-- Indexes: pk_area for ON CONFLICT.
INSERT INTO area (code, name, level, set_code, parent_code, district_code, households, population,
                  area_km2, geom, geom_3857)
SELECT s.code, s.name, s.level, s.set_code, NULL, s.district_code, coalesce(s.households, 0), s.population,
       ST_Area(s.geom) / 1e6, ST_Multi(ST_CollectionExtract(s.geom, 3)),
       ST_Multi(ST_Transform(ST_CollectionExtract(s.geom, 3), 3857))
FROM ingest_stage_areas s
ON CONFLICT (code) DO UPDATE
SET name = EXCLUDED.name, level = EXCLUDED.level, set_code = EXCLUDED.set_code,
    district_code = coalesce(EXCLUDED.district_code, area.district_code),
    households = EXCLUDED.households, population = EXCLUDED.population,
    area_km2 = EXCLUDED.area_km2, geom = EXCLUDED.geom, geom_3857 = EXCLUDED.geom_3857;

-- Explicit parent codes from the file (where given) are set after every row exists.
UPDATE area a SET parent_code = s.parent_code
FROM ingest_stage_areas s
WHERE a.code = s.code AND s.parent_code IS NOT NULL AND EXISTS (SELECT 1 FROM area p WHERE p.code = s.parent_code)
