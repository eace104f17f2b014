-- Households per (area, segment) for any geography and any classification.
-- Household-level classifications count residential addresses by their own segment;
-- area-level ones (OAC per output area) give every household its OA's segment.
-- Households with no segment in a household classification are counted under
-- segment_code NULL so totals still add up to the area's households.
-- Parameters: :classification, :level (oa|lsoa|ward|district|custom), :set_code (custom
--   sets only, else NULL), :within (NULL or an area code whose OAs bound the analysis),
--   :districts (NULL or district codes whose OAs bound it: a service's own districts).
-- `within` uses IN (subquery), hashed once; OR-ed with IS NULL a correlated EXISTS
-- cannot become a semi-join and would probe per row.
-- SRIDs: none (pure attribute joins). Indexes: ix_address_oa_code, pk_household_segment,
--   ix_area_membership_level_area, pk_area_membership.
WITH cls AS (
    SELECT unit FROM classification WHERE code = :classification
), oa_households AS (
    -- household-level classification
    SELECT ad.oa_code, hs.segment_code, count(*) AS households
    FROM address ad
    LEFT JOIN household_segment hs
           ON hs.uprn = ad.uprn AND hs.classification_code = :classification
    WHERE ad.is_residential AND ad.oa_code IS NOT NULL
      AND (SELECT unit FROM cls) = 'household'
    GROUP BY ad.oa_code, hs.segment_code
    UNION ALL
    -- area-level classification: the OA's households all take the OA's segment
    SELECT a.code, s.segment_code, a.households
    FROM area a
    LEFT JOIN area_segment s ON s.area_code = a.code AND s.classification_code = :classification
    WHERE a.level = 'oa' AND a.households > 0
      AND (SELECT unit FROM cls) = 'area'
)
SELECT m.area_code, o.segment_code, sum(o.households)::bigint AS households
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
