-- One stored area variable (an area-statistics batch's `variables`: residents 65+, say) per
-- area. Parameters: :variable (text), :codes (text[]). No geometry. Indexes: pk_area_variable.
SELECT v.area_code, v.value
FROM area_variable v
WHERE v.variable = :variable AND v.area_code = ANY(:codes)
