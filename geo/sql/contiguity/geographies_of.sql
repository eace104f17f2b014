-- The geographies of some areas and whether their stored neighbour pairs are current.
-- Parameters: :codes (text[]). No geometry. Indexes: pk_area, pk_data_version_scope,
-- pk_area_neighbour_state.
SELECT k.geography,
       s.version IS NOT DISTINCT FROM coalesce(v.version, 0) AS current
FROM (
    SELECT DISTINCT CASE WHEN level = 'custom' THEN 'set:' || set_code ELSE 'level:' || level END AS geography
    FROM area WHERE code = ANY(CAST(:codes AS text[]))
) k
LEFT JOIN data_version_scope v
       ON v.scope = 'geography' AND v.district_code = '' AND v.subject = k.geography
LEFT JOIN area_neighbour_state s ON s.geography = k.geography
