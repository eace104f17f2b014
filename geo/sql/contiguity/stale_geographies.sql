-- Geographies whose stored neighbour pairs are missing or older than their data version
-- (geo.analysis.contiguity). A geography is 'level:<level>' for a standard level, or
-- 'set:<code>' for a custom area set, as in data_version_scope (geo/sql/versions).
-- Returns the key, its level and set, and the version to store.
-- Parameters: none. No geometry. Indexes: ix_area_level (a scan of area's narrow columns),
-- pk_data_version_scope, pk_area_neighbour_state.
WITH keys AS (
    SELECT DISTINCT
           CASE WHEN level = 'custom' THEN 'set:' || set_code ELSE 'level:' || level END AS geography,
           level,
           CASE WHEN level = 'custom' THEN set_code END AS set_code
    FROM area
)
SELECT k.geography, k.level, k.set_code, coalesce(v.version, 0) AS version
FROM keys k
LEFT JOIN data_version_scope v
       ON v.scope = 'geography' AND v.district_code = '' AND v.subject = k.geography
LEFT JOIN area_neighbour_state s ON s.geography = k.geography
WHERE s.version IS DISTINCT FROM coalesce(v.version, 0)
ORDER BY k.geography
