-- Households per (area, segment) with each cell's record-key sum, for public callers
-- (cell-key perturbation, geo/disclosure.py). Same counts as households_by_area_segment.sql.
-- A household's record key is hashint8extended(uprn, :seed) & 255 (PostgreSQL's seeded
-- hash; :seed comes from the secret salt). Area-level classifications know only each
-- OA's number of households: household i of OA c gets hashtextextended(c || ':' || i).
-- Parameters: :classification, :level, :set_code, :within, :districts (as
--   households_by_area_segment), :seed (bigint).
-- SRIDs: none. Indexes: ix_address_oa_code, pk_household_segment, ix_area_membership_level_area.
WITH cls AS (
    SELECT unit FROM classification WHERE code = :classification
), oa_households AS (
    SELECT ad.oa_code, hs.segment_code, count(*) AS households,
           sum(hashint8extended(ad.uprn, CAST(:seed AS bigint)) & 255) AS key_sum
    FROM address ad
    LEFT JOIN household_segment hs
           ON hs.uprn = ad.uprn AND hs.classification_code = :classification
    WHERE ad.is_residential AND ad.oa_code IS NOT NULL
      AND (SELECT unit FROM cls) = 'household'
    GROUP BY ad.oa_code, hs.segment_code
    UNION ALL
    SELECT a.code, s.segment_code, a.households,
           (SELECT sum(hashtextextended(a.code || ':' || g, CAST(:seed AS bigint)) & 255)
            FROM generate_series(1, a.households) g)
    FROM area a
    LEFT JOIN area_segment s ON s.area_code = a.code AND s.classification_code = :classification
    WHERE a.level = 'oa' AND a.households > 0
      AND (SELECT unit FROM cls) = 'area'
)
SELECT m.area_code, o.segment_code, sum(o.households)::bigint AS households,
       sum(o.key_sum)::bigint AS key_sum
FROM oa_households o
JOIN area_membership m ON m.oa_code = o.oa_code AND m.level = :level
     AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
WHERE (CAST(:within AS text) IS NULL OR o.oa_code IN (
            SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
  AND (CAST(:districts AS text[]) IS NULL OR o.oa_code IN (
            SELECT d.oa_code FROM area_membership d
            WHERE d.level = 'district' AND d.area_code = ANY(CAST(:districts AS text[]))))
GROUP BY m.area_code, o.segment_code
ORDER BY m.area_code, o.segment_code
