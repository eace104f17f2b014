-- Census variables per area of a geography: an area's own value when the file gave one
-- for its level, otherwise the sum over its output areas that have the variable (counts
-- add up: residents, households). OAs outside :within are left out of the sums.
-- Parameters: :variables (text[]), :level, :set_code (custom sets only, else NULL),
--   :within (NULL or an area code whose OAs bound the analysis).
-- SRIDs: none (attribute joins). Indexes: pk_area_variable, ix_area_variable_variable,
--   ix_area_membership_level_area, pk_area_membership.
WITH direct AS (
    SELECT v.area_code, v.variable, v.value
    FROM area_variable v
    JOIN area a ON a.code = v.area_code AND a.level = :level
         AND (CAST(:set_code AS text) IS NULL OR a.set_code = CAST(:set_code AS text))
    WHERE v.variable = ANY(CAST(:variables AS text[]))
      AND (CAST(:within AS text) IS NULL OR v.area_code IN (
            SELECT m.area_code FROM area_membership m
            WHERE m.oa_code IN (SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text))))
), from_oas AS (
    SELECT m.area_code, v.variable, sum(v.value) AS value
    FROM area_variable v
    JOIN area o ON o.code = v.area_code AND o.level = 'oa'
    JOIN area_membership m ON m.oa_code = v.area_code AND m.level = :level
         AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
    WHERE v.variable = ANY(CAST(:variables AS text[]))
      AND (CAST(:within AS text) IS NULL OR v.area_code IN (
            SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
    GROUP BY m.area_code, v.variable
)
SELECT area_code, variable, value FROM direct
UNION ALL
SELECT f.area_code, f.variable, f.value
FROM from_oas f
WHERE NOT EXISTS (SELECT 1 FROM direct d WHERE d.area_code = f.area_code AND d.variable = f.variable)
ORDER BY 1, 2
