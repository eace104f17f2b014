-- Postcode units with centroid and OA from the staged batch (replacing earlier values).
-- Parameters: none (reads the session's staging table). SRID: x, y are EPSG:27700.
-- Indexes: pk_postcode for ON CONFLICT.
INSERT INTO postcode (postcode_norm, postcode, oa_code, district_code, geom)
SELECT s.postcode_norm, s.postcode, s.oa_code,
       coalesce(s.district_code, a.district_code),
       ST_SetSRID(ST_MakePoint(s.x, s.y), 27700)
FROM ingest_stage_postcodes s
LEFT JOIN area a ON a.code = s.oa_code
ON CONFLICT (postcode_norm) DO UPDATE
SET postcode = EXCLUDED.postcode, oa_code = EXCLUDED.oa_code,
    district_code = EXCLUDED.district_code, geom = EXCLUDED.geom
