-- Before a batch sets bases (households, population): each area's bases as they were.
-- Parameters: :batch_id. No geometry. Indexes: pk_area, pk_ingest_superseded.
INSERT INTO ingest_superseded (batch_id, table_name, key, previous)
SELECT DISTINCT :batch_id, 'area_bases', a.code,
       jsonb_build_object('households', a.households, 'population', a.population)
FROM ingest_stage_area_bases s
JOIN area a ON a.code = s.area_code
ON CONFLICT DO NOTHING
