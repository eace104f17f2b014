-- Counts per area (area_count) apportioned to output areas by households, then per
-- (area, segment) of an area-level classification. A count on an LSOA goes to its OAs in
-- proportion to their households: OA share = n x households(OA) / households(LSOA).
-- Suppressed counts are left out (geo.analysis.data reports their share); a counted
-- area whose OAs hold no households cannot be apportioned and is left out too.
-- The target is fractional: geo.analysis.data rounds it to whole numbers.
-- Public callers pass the counts themselves, perturbed (:codes and :counts, parallel arrays
-- from area_counts_keyed.sql); otherwise both are NULL and area_count is read.
-- Parameters: :service, :classification, :level, :set_code, :within, :date_from, :date_to,
--   :codes (text[] or NULL), :counts (float8[] or NULL).
-- SRIDs: none. Indexes: ix_area_count_service_period, pk_area_membership, pk_area_segment.
WITH counts AS (
    SELECT c.area_code, sum(c.count)::float8 AS n
    FROM area_count c
    WHERE CAST(:codes AS text[]) IS NULL
      AND c.service_code = :service AND NOT c.suppressed
      AND (CAST(:date_from AS date) IS NULL OR c.period_start >= CAST(:date_from AS date))
      AND (CAST(:date_to AS date) IS NULL OR c.period_start <= CAST(:date_to AS date))
    GROUP BY c.area_code
    UNION ALL
    SELECT p.area_code, p.n
    FROM unnest(CAST(:codes AS text[]), CAST(:counts AS float8[])) AS p(area_code, n)
    WHERE CAST(:codes AS text[]) IS NOT NULL
), oas AS (
    SELECT c.area_code AS source_code, m.oa_code, o.households::float8 AS households, c.n
    FROM counts c
    JOIN area_membership m ON m.area_code = c.area_code
    JOIN area o ON o.code = m.oa_code AND o.level = 'oa'
), shares AS (
    SELECT oa_code, n * households / NULLIF(sum(households) OVER (PARTITION BY source_code), 0) AS x
    FROM oas
)
SELECT m.area_code, asg.segment_code, sum(s.x) AS target
FROM shares s
LEFT JOIN area_segment asg ON asg.area_code = s.oa_code AND asg.classification_code = :classification
JOIN area_membership m ON m.oa_code = s.oa_code AND m.level = :level
     AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
WHERE s.x > 0
  AND (CAST(:within AS text) IS NULL OR s.oa_code IN (
        SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
GROUP BY m.area_code, asg.segment_code
ORDER BY m.area_code, asg.segment_code
