-- Primary events per (area, segment, service, channel) from the monthly aggregate
-- (service_use_oa_segment_month): the same answer as events_by_area_segment_channel.sql
-- while the aggregates are fresh (geo.analysis.aggregates).
-- Parameters: :classification, :level, :set_code, :within, :service (NULL = all),
--   :month_from, :month_to (first days of months, inclusive, NULL = open).
-- SRIDs: none. Indexes: ix_service_use_oa_segment_month, ix_area_membership_level_area.
SELECT m.area_code, a.segment_code, a.service_code, coalesce(a.channel, 'unknown') AS channel,
       sum(a.events)::bigint AS events
FROM service_use_oa_segment_month a
JOIN area_membership m ON m.oa_code = a.oa_code AND m.level = :level
     AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
WHERE a.classification_code = :classification
  AND (CAST(:service AS text) IS NULL OR a.service_code = CAST(:service AS text))
  AND (CAST(:month_from AS date) IS NULL OR a.month >= CAST(:month_from AS date))
  AND (CAST(:month_to AS date) IS NULL OR a.month <= CAST(:month_to AS date))
  AND (CAST(:within AS text) IS NULL OR a.oa_code IN (
        SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
GROUP BY m.area_code, a.segment_code, a.service_code, coalesce(a.channel, 'unknown')
ORDER BY 1, 2, 3, 4
