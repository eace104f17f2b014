-- Each output area's LSOA, MSOA, ward and district, from area_membership (an OA's containing
-- areas at every standard level). Parameters: none. No geometry.
-- Indexes: ix_area_membership_level_area.
SELECT o.code AS oa_code,
       max(m.area_code) FILTER (WHERE m.level = 'lsoa') AS lsoa_code,
       max(m.area_code) FILTER (WHERE m.level = 'msoa') AS msoa_code,
       max(m.area_code) FILTER (WHERE m.level = 'ward') AS ward_code,
       coalesce(max(m.area_code) FILTER (WHERE m.level = 'district'), max(o.district_code)) AS district_code
FROM area o
LEFT JOIN area_membership m ON m.oa_code = o.code AND m.level IN ('lsoa', 'msoa', 'ward', 'district')
WHERE o.level = 'oa'
GROUP BY o.code
