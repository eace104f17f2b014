-- Mark events as duplicates of a primary event, from the staged pairs.
-- Parameters: none (reads the session's temp table ingest_duplicate_pairs(id, primary_id)).
-- Indexes: pk_service_event. No geometry.
UPDATE service_event s
SET is_primary = false, duplicate_of = p.primary_id
FROM ingest_duplicate_pairs p
WHERE s.id = p.id
