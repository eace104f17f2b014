-- Rebuild area_membership for one set: for a standard set, each of its OAs belongs to
-- itself and to the LSOA, ward and district of the set containing the OA's
-- ST_PointOnSurface (MSOAs too; directly, not through the parent chain, since 2011 LSOAs need
-- not nest in 2013 wards); for a custom set, every OA (of any set) whose point on
-- surface lies in one of the set's areas belongs to that area.
-- Parameters: :set_code, :custom (boolean). SRID: EPSG:27700. Indexes: GiST on area.geom.
DELETE FROM area_membership
WHERE set_code = :set_code
   OR oa_code IN (SELECT code FROM area WHERE set_code = :set_code AND level = 'oa' AND NOT :custom);

INSERT INTO area_membership (oa_code, area_code, level, set_code)
SELECT o.code, o.code, 'oa', o.set_code
FROM area o WHERE o.set_code = :set_code AND o.level = 'oa' AND NOT :custom
UNION ALL
SELECT o.code, p.code, p.level, p.set_code
FROM area o
JOIN area p
  ON p.set_code = :set_code
 AND p.level IN ('lsoa', 'msoa', 'ward', 'district', 'custom')
 AND ST_Intersects(p.geom, ST_PointOnSurface(o.geom))
WHERE o.level = 'oa' AND (:custom OR o.set_code = :set_code)
ON CONFLICT DO NOTHING
