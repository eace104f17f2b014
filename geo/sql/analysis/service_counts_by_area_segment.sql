-- Service use per (area, segment): events, or distinct households, for primary records.
-- Household-level classifications attribute an event to the segment of its UPRN's
-- household (events matched only to a postcode or a point have no household: NULL
-- segment); area-level classifications attribute it to its output area's segment.
-- Parameters: :service, :classification, :level, :set_code, :within (as in
--   households_by_area_segment), :date_from, :date_to (inclusive, NULL = open),
--   :channel (NULL = all), :unit ('events' | 'households').
-- SRIDs: none. Indexes: ix_service_event_service_oa, pk_household_segment, pk_area_segment.
WITH cls AS (
    SELECT unit FROM classification WHERE code = :classification
), ev AS (
    SELECT e.oa_code, e.household_key,
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
)
SELECT m.area_code, ev.segment_code,
       CASE WHEN :unit = 'households' THEN count(DISTINCT ev.household_key)
            ELSE count(*) END::bigint AS target
FROM ev
JOIN area_membership m ON m.oa_code = ev.oa_code AND m.level = :level
     AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
GROUP BY m.area_code, ev.segment_code
ORDER BY m.area_code, ev.segment_code
