-- The shapes a PDF profile's map draws: the area, the other areas of its level in the same
-- district (context), and the district outline, simplified for print, in EPSG:3857 as
-- GeoJSON. Parameters: :code (the area), :tolerance_m (ST_Simplify tolerance, metres).
-- Index: area primary key; ix_area_level (level) for the context areas.
WITH target AS (
    SELECT a.code, a.level, a.set_code, a.parent_code, a.geom_3857 FROM area a WHERE a.code = :code
),
district AS (
    SELECT d.code, d.geom_3857
    FROM area d, target t
    WHERE d.level = 'district' AND ST_Intersects(d.geom_3857, ST_PointOnSurface(t.geom_3857))
    LIMIT 1
)
SELECT 'area' AS role, t.code, ST_AsGeoJSON(ST_Simplify(t.geom_3857, :tolerance_m)) AS shape FROM target t
UNION ALL
SELECT 'context', a.code, ST_AsGeoJSON(ST_Simplify(a.geom_3857, :tolerance_m))
FROM area a, target t, district d
WHERE a.level = t.level AND a.set_code IS NOT DISTINCT FROM t.set_code AND a.code <> t.code
  AND a.geom_3857 && d.geom_3857 AND ST_Intersects(ST_PointOnSurface(a.geom_3857), d.geom_3857)
UNION ALL
SELECT 'district', d.code, ST_AsGeoJSON(ST_Simplify(d.geom_3857, :tolerance_m)) FROM district d
