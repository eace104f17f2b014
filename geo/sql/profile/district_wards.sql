-- The wards of a district: those whose point on surface lies in the district's shape.
-- Parameters: :district (a district area code). Index: GiST on area.geom_3857.
SELECT w.code
FROM area w
JOIN area d ON d.code = :district AND d.level = 'district'
WHERE w.level = 'ward' AND w.geom_3857 && d.geom_3857
  AND ST_Intersects(d.geom_3857, ST_PointOnSurface(w.geom_3857))
ORDER BY w.code
