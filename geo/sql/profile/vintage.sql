-- What a printed profile says about its data: the last load finished, and the first and
-- last day of the primary service events. Index: ix_service_event_service_date is not
-- usable without a service; this reads the table once per document.
SELECT (SELECT max(finished_at) FROM ingest_batch WHERE status = 'loaded') AS last_load,
       (SELECT min(event_date) FROM service_event WHERE is_primary) AS first_event,
       (SELECT max(event_date) FROM service_event WHERE is_primary) AS last_event
