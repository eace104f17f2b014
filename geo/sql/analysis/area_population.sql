-- Usual residents per area (the `population` base: the demo's, or an area-statistics batch's).
-- Parameters: :codes (text[]). No geometry. Indexes: pk_area.
SELECT a.code AS area_code, a.population
FROM area a
WHERE a.code = ANY(:codes)
