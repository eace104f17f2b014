-- Primary service events per (area, segment, service, channel), for channel mixes, costs
-- and channel-shift scenarios. Segment attribution follows households_by_area_segment:
-- a household classification uses the event's UPRN, an area classification its OA.
-- Parameters: :classification, :level, :set_code (custom sets only, else NULL),
--   :within (NULL or an area code), :service (NULL = every service),
--   :date_from, :date_to (inclusive, NULL = open), :seed (NULL, or the record-key seed of
--   geo/disclosure.py: key_sum is then each cell's sum of hashint8extended(id, :seed) & 255).
-- SRIDs: none (attribute joins). Indexes: ix_service_event_service_oa,
--   pk_household_segment, pk_area_segment, ix_area_membership_level_area.
WITH cls AS (
    SELECT unit FROM classification WHERE code = :classification
), ev AS (
    SELECT e.id, e.oa_code, e.service_code, coalesce(e.channel, 'unknown') AS channel,
           CASE WHEN (SELECT unit FROM cls) = 'household' THEN hs.segment_code
                ELSE asg.segment_code END AS segment_code
    FROM service_event e
    LEFT JOIN household_segment hs
           ON (SELECT unit FROM cls) = 'household'
          AND hs.uprn = e.uprn AND hs.classification_code = :classification
    LEFT JOIN area_segment asg
           ON (SELECT unit FROM cls) = 'area'
          AND asg.area_code = e.oa_code AND asg.classification_code = :classification
    WHERE e.is_primary
      AND e.oa_code IS NOT NULL
      AND (CAST(:service AS text) IS NULL OR e.service_code = CAST(:service AS text))
      AND (CAST(:date_from AS date) IS NULL OR e.event_date >= CAST(:date_from AS date))
      AND (CAST(:date_to AS date) IS NULL OR e.event_date <= CAST(:date_to AS date))
      -- IN (subquery) is hashed once; a correlated EXISTS would probe per event.
      AND (CAST(:within AS text) IS NULL OR e.oa_code IN (
            SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
)
SELECT m.area_code, ev.segment_code, ev.service_code, ev.channel, count(*)::bigint AS events,
       CASE WHEN CAST(:seed AS bigint) IS NULL THEN 0
            ELSE sum(hashint8extended(ev.id, CAST(:seed AS bigint)) & 255) END::bigint AS key_sum
FROM ev
JOIN area_membership m ON m.oa_code = ev.oa_code AND m.level = :level
     AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
GROUP BY m.area_code, ev.segment_code, ev.service_code, ev.channel
ORDER BY m.area_code, ev.segment_code, ev.service_code, ev.channel
