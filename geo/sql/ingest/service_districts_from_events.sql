-- The districts a service has data for, recorded from one events batch (issue 12).
-- Parameters: :batch_id. No geometry. Indexes: ix_service_event_batch_id.
INSERT INTO service_district (service_code, district_code, batch_id)
SELECT DISTINCT service_code, district_code, :batch_id
FROM service_event
WHERE batch_id = :batch_id AND district_code IS NOT NULL
ON CONFLICT DO NOTHING
