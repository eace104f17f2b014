-- Area classification (OAC per output area) from the staged batch; replaces an area's
-- earlier class in the same classification. Parameters: :batch_id. No geometry.
-- Indexes: pk_area_segment (area_code, classification_code) for ON CONFLICT.
INSERT INTO area_segment (area_code, classification_code, segment_code, batch_id)
SELECT area_code, classification_code, segment_code, :batch_id FROM ingest_stage_area_classification
ON CONFLICT (area_code, classification_code)
DO UPDATE SET segment_code = EXCLUDED.segment_code, batch_id = EXCLUDED.batch_id
