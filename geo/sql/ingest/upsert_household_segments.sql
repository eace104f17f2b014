-- Household segment assignments from the staged batch; a household's earlier segment in
-- the same classification is replaced. Parameters: :batch_id. No geometry.
-- Indexes: pk_household_segment (uprn, classification_code) for ON CONFLICT.
INSERT INTO household_segment (uprn, classification_code, segment_code, batch_id)
SELECT uprn, classification_code, segment_code, :batch_id FROM ingest_stage_households
ON CONFLICT (uprn, classification_code)
DO UPDATE SET segment_code = EXCLUDED.segment_code, batch_id = EXCLUDED.batch_id
