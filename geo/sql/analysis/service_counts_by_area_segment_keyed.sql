-- Service use per (area, segment) with each cell's record-key sum, for public callers
-- (cell-key perturbation, geo/disclosure.py). Same counts as
-- service_counts_by_area_segment.sql. An event's record key is
-- hashint8extended(id, :seed) & 255; with :unit = 'households' the records are the
-- distinct households of the cell, keyed hashtextextended(household_key, :seed) & 255.
-- Parameters: as service_counts_by_area_segment.sql, plus :seed (bigint).
-- SRIDs: none. Indexes: ix_service_event_service_oa, pk_household_segment, pk_area_segment.
WITH cls AS (
    SELECT unit FROM classification WHERE code = :classification
), ev AS (
    SELECT e.id, e.oa_code, e.household_key,
           CASE WHEN (SELECT unit FROM cls) = 'household' THEN hs.segment_code
                ELSE asg.segment_code END AS segment_code
    FROM service_event e
    LEFT JOIN household_segment hs
           ON (SELECT unit FROM cls) = 'household'
          AND hs.uprn = e.uprn AND hs.classification_code = :classification
    LEFT JOIN area_segment asg
           ON (SELECT unit FROM cls) = 'area'
          AND asg.area_code = e.oa_code AND asg.classification_code = :classification
    WHERE e.service_code = :service
      AND e.is_primary
      AND e.oa_code IS NOT NULL
      AND (CAST(:date_from AS date) IS NULL OR e.event_date >= CAST(:date_from AS date))
      AND (CAST(:date_to AS date) IS NULL OR e.event_date <= CAST(:date_to AS date))
      AND (CAST(:channel AS text) IS NULL OR e.channel = CAST(:channel AS text))
      AND (CAST(:within AS text) IS NULL OR e.oa_code IN (
            SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
), cells AS (
    SELECT m.area_code, ev.segment_code, ev.household_key, count(*) AS n,
           sum(hashint8extended(ev.id, CAST(:seed AS bigint)) & 255) AS event_keys
    FROM ev
    JOIN area_membership m ON m.oa_code = ev.oa_code AND m.level = :level
         AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
    GROUP BY m.area_code, ev.segment_code, ev.household_key
)
SELECT area_code, segment_code,
       CASE WHEN :unit = 'households' THEN count(household_key) ELSE sum(n) END::bigint AS target,
       CASE WHEN :unit = 'households'
            THEN coalesce(sum(hashtextextended(household_key, CAST(:seed AS bigint)) & 255)
                          FILTER (WHERE household_key IS NOT NULL), 0)
            ELSE sum(event_keys) END::bigint AS key_sum
FROM cells
GROUP BY area_code, segment_code
ORDER BY area_code, segment_code
