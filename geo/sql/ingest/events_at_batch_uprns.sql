-- Every event (of any batch, or none) of the given services at a UPRN the given batch
-- also has: the candidates for cross-system duplicate resolution.
-- Parameters: :batch_id, :services (text[]). No geometry.
-- Indexes: ix_service_event_batch_id (the batch's rows), ix_service_event_uprn (the rest).
SELECT e.id, e.service_code, e.uprn, e.event_date, e.source_system, e.is_primary, e.duplicate_of
FROM service_event e
WHERE e.service_code = ANY(CAST(:services AS text[]))
  AND e.uprn IN (
      SELECT DISTINCT b.uprn FROM service_event b
      WHERE b.batch_id = :batch_id AND b.uprn IS NOT NULL AND b.service_code = ANY(CAST(:services AS text[]))
  )
