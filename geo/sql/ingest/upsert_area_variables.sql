-- Census variables per area from the staged batch: a variable the file carries replaces
-- the stored value (and records the batch); others are kept. Parameters: :batch_id.
-- No geometry. Indexes: pk_area_variable.
INSERT INTO area_variable (area_code, variable, value, batch_id)
SELECT area_code, variable, value, :batch_id
FROM ingest_stage_area_variables
ON CONFLICT (area_code, variable) DO UPDATE
SET value = EXCLUDED.value, batch_id = EXCLUDED.batch_id
