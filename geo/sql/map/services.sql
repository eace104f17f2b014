-- The services the map offers, with their polarity and the first and last day of their
-- primary events (the time slider's range). Index: ix_service_event_service_date.
SELECT s.code, s.name, s.unit, s.polarity,
       (SELECT min(e.event_date) FROM service_event e WHERE e.service_code = s.code AND e.is_primary) AS first_day,
       (SELECT max(e.event_date) FROM service_event e WHERE e.service_code = s.code AND e.is_primary) AS last_day
FROM service s
ORDER BY s.name
