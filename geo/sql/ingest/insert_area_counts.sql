-- Counts per area from the staged batch, then the districts the services now have data for.
-- Parameters: :batch_id. No geometry. Indexes: pk_area (district of each counted area).
INSERT INTO area_count (service_code, area_code, period_start, count, suppressed, count_max, batch_id)
SELECT service_code, area_code, period_start, count, suppressed, count_max, :batch_id
FROM ingest_stage_area_counts;
INSERT INTO service_district (service_code, district_code, batch_id)
SELECT DISTINCT s.service_code, a.district_code, :batch_id
FROM ingest_stage_area_counts s
JOIN area a ON a.code = s.area_code
WHERE a.district_code IS NOT NULL
ON CONFLICT DO NOTHING
