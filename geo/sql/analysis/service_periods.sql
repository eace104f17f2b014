-- First and last event date of each service's primary events (to annualise counts).
-- Parameters: none. SRIDs: none. Indexes: ix_service_event_service_date.
SELECT s.code AS service_code,
       (SELECT min(e.event_date) FROM service_event e WHERE e.service_code = s.code AND e.is_primary) AS first_date,
       (SELECT max(e.event_date) FROM service_event e WHERE e.service_code = s.code AND e.is_primary) AS last_date
FROM service s
ORDER BY s.code
