-- Services used together: for households using :service (primary events with a household
-- key), how many also used each other service, next to how many households used that
-- service at all. Both counts are distinct households, restricted to :within's OAs.
-- With :seed (the record-key seed of geo/disclosure.py; NULL: zeros) each count also has its
-- key sum: the sum over its distinct households of hashtextextended(household_key, :seed) & 255.
-- Parameters: :service, :within (NULL or an area code), :date_from, :date_to, :seed.
-- SRIDs: none. Indexes: ix_service_event_service_date (the households join is a hash join).
WITH ev AS (
    SELECT DISTINCT e.service_code, e.household_key
    FROM service_event e
    WHERE e.is_primary AND e.household_key IS NOT NULL AND e.oa_code IS NOT NULL
      AND (CAST(:date_from AS date) IS NULL OR e.event_date >= CAST(:date_from AS date))
      AND (CAST(:date_to AS date) IS NULL OR e.event_date <= CAST(:date_to AS date))
      AND (CAST(:within AS text) IS NULL OR e.oa_code IN (
            SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
), keyed AS (
    SELECT service_code, household_key,
           CASE WHEN CAST(:seed AS bigint) IS NULL THEN 0
                ELSE hashtextextended(household_key, CAST(:seed AS bigint)) & 255 END AS k
    FROM ev
), a AS (
    SELECT household_key, k FROM keyed WHERE service_code = :service
)
SELECT ev.service_code,
       count(*)::bigint AS users,
       count(a.household_key)::bigint AS users_with_a,
       (SELECT count(*) FROM a)::bigint AS users_of_a,
       sum(ev.k)::bigint AS users_key,
       coalesce(sum(a.k), 0)::bigint AS with_a_key,
       (SELECT coalesce(sum(k), 0) FROM a)::bigint AS of_a_key
FROM keyed ev
LEFT JOIN a ON a.household_key = ev.household_key
GROUP BY ev.service_code
ORDER BY ev.service_code
