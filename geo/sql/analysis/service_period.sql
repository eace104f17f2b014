-- First and last day of a service's (primary) events: the default period of a trend analysis.
-- Parameters: :service (service code).
-- SRIDs: none. Indexes: service_event's service_code/event_date index.
SELECT min(e.event_date) AS first_day, max(e.event_date) AS last_day
FROM service_event e
WHERE e.service_code = :service AND e.is_primary
