-- Service use per (area, segment) from the pre-aggregated views (see aggregates_create.sql):
-- the same answer as service_counts_by_area_segment.sql, read from per-OA totals instead
-- of every event. Only valid while the aggregates are fresh (geo.analysis.aggregates).
-- :by_month false reads service_use_oa_segment (whole period, all channels; events or
-- distinct households); true reads service_use_oa_segment_month (events only), with
-- :month_from/:month_to (first days of months, inclusive, NULL = open) and :channel.
-- Parameters: :service, :classification, :unit, :by_month, :month_from, :month_to,
--   :channel, :level, :set_code, :within.
-- SRIDs: none. Indexes: ix_service_use_oa_segment, ix_service_use_oa_segment_month,
--   ix_area_membership_level_area, pk_area_membership.
WITH agg AS (
    SELECT a.oa_code, a.segment_code,
           CASE WHEN :unit = 'households' THEN a.households ELSE a.events END AS n
    FROM service_use_oa_segment a
    WHERE NOT CAST(:by_month AS boolean)
      AND a.service_code = :service AND a.classification_code = :classification
    UNION ALL
    SELECT a.oa_code, a.segment_code, a.events
    FROM service_use_oa_segment_month a
    WHERE CAST(:by_month AS boolean)
      AND a.service_code = :service AND a.classification_code = :classification
      AND (CAST(:month_from AS date) IS NULL OR a.month >= CAST(:month_from AS date))
      AND (CAST(:month_to AS date) IS NULL OR a.month <= CAST(:month_to AS date))
      AND (CAST(:channel AS text) IS NULL OR a.channel = CAST(:channel AS text))
)
SELECT m.area_code, agg.segment_code, sum(agg.n)::bigint AS target
FROM agg
JOIN area_membership m ON m.oa_code = agg.oa_code AND m.level = :level
     AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
WHERE CAST(:within AS text) IS NULL OR EXISTS (
    SELECT 1 FROM area_membership w WHERE w.oa_code = agg.oa_code AND w.area_code = CAST(:within AS text)
)
GROUP BY m.area_code, agg.segment_code
ORDER BY m.area_code, agg.segment_code
