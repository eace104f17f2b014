-- Households per (area, segment) from the pre-aggregated household_oa_segment view: the
-- same answer as households_by_area_segment.sql while the aggregates are fresh
-- (geo.analysis.aggregates).
-- Parameters: :classification, :level, :set_code, :within, :districts (NULL = all).
-- SRIDs: none. Indexes: ix_household_oa_segment, ix_area_membership_level_area.
SELECT m.area_code, h.segment_code, sum(h.households)::bigint AS households
FROM household_oa_segment h
JOIN area_membership m ON m.oa_code = h.oa_code AND m.level = :level
     AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
WHERE h.classification_code = :classification
  AND (CAST(:within AS text) IS NULL OR h.oa_code IN (
        SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
  AND (CAST(:districts AS text[]) IS NULL OR h.oa_code IN (
        SELECT d.oa_code FROM area_membership d
        WHERE d.level = 'district' AND d.area_code = ANY(CAST(:districts AS text[]))))
GROUP BY m.area_code, h.segment_code
ORDER BY m.area_code, h.segment_code
