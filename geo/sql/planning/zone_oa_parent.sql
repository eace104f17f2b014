-- Which LSOA each output area belongs to, to add OA demand up to LSOAs.
-- Parameters: none.
-- SRIDs: none (codes only).
-- Indexes: ix_area_membership_level_area.
SELECT m.oa_code, m.area_code
FROM area_membership m
WHERE m.level = 'lsoa'
