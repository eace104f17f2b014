-- The OA11 -> OA21 lookup from the staged batch, replacing earlier links' change and district.
-- Parameters: :batch_id. No geometry. Indexes: pk_area_vintage_lookup for ON CONFLICT.
INSERT INTO area_vintage_lookup (oa11_code, oa21_code, change, district_code, batch_id)
SELECT DISTINCT ON (oa11_code, oa21_code) oa11_code, oa21_code, change, district_code, :batch_id
FROM ingest_stage_vintage_lookup
ON CONFLICT (oa11_code, oa21_code)
DO UPDATE SET change = EXCLUDED.change, district_code = EXCLUDED.district_code, batch_id = EXCLUDED.batch_id
