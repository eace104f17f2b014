-- The batch's services for which some other source system has an event at one of the
-- batch's UPRNs: only these can hold cross-system duplicates, so only these are fetched.
-- Parameters: :batch_id. No geometry.
-- Indexes: ix_service_event_batch_id (the batch), ix_service_event_uprn (the probes).
SELECT DISTINCT b.service_code
FROM (
    SELECT DISTINCT service_code, source_system, uprn
    FROM service_event
    WHERE batch_id = :batch_id AND uprn IS NOT NULL
) b
WHERE EXISTS (
    SELECT 1 FROM service_event o
    WHERE o.uprn = b.uprn AND o.service_code = b.service_code AND o.source_system <> b.source_system
)
