-- One representative point per output area: the mean of its residential addresses (a
-- household-weighted centroid), or a point on its surface if it has none.
-- Parameters: :oa_codes (text[]; the OAs wanted).
-- SRIDs: address.geom and area.geom 27700; x, y returned in metres (27700).
-- Indexes: pk_area, ix_address_oa_code.
SELECT a.code,
       coalesce(avg(ST_X(ad.geom)), ST_X(ST_PointOnSurface(a.geom))) AS x,
       coalesce(avg(ST_Y(ad.geom)), ST_Y(ST_PointOnSurface(a.geom))) AS y
FROM area a
LEFT JOIN address ad ON ad.oa_code = a.code AND ad.is_residential AND ad.geom IS NOT NULL
WHERE a.level = 'oa' AND a.code = ANY(CAST(:oa_codes AS text[]))
GROUP BY a.code, a.geom
ORDER BY a.code
