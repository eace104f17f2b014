-- Services used together: for households using :service (primary events with a household
-- key), how many also used each other service, next to how many households used that
-- service at all. Both counts are distinct households, restricted to :within's OAs.
-- Parameters: :service, :within (NULL or an area code), :date_from, :date_to.
-- SRIDs: none. Indexes: ix_service_event_service_date (the households join is a hash join).
WITH ev AS (
    SELECT DISTINCT e.service_code, e.household_key
    FROM service_event e
    WHERE e.is_primary AND e.household_key IS NOT NULL AND e.oa_code IS NOT NULL
      AND (CAST(:date_from AS date) IS NULL OR e.event_date >= CAST(:date_from AS date))
      AND (CAST(:date_to AS date) IS NULL OR e.event_date <= CAST(:date_to AS date))
      AND (CAST(:within AS text) IS NULL OR e.oa_code IN (
            SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
), a AS (
    SELECT household_key FROM ev WHERE service_code = :service
)
SELECT ev.service_code,
       count(*)::bigint AS users,
       count(a.household_key)::bigint AS users_with_a,
       (SELECT count(*) FROM a)::bigint AS users_of_a
FROM ev
LEFT JOIN a ON a.household_key = ev.household_key
GROUP BY ev.service_code
ORDER BY ev.service_code
