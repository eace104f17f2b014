-- Areas as a GeoJSON FeatureCollection (WGS84), built in PostGIS.
-- Parameters: :level (oa|lsoa|ward|district|custom), :set_code (NULL = any set),
--   :district_code (NULL = any district), :code (NULL = all), :precision (decimal places),
--   :simplify_m (NULL or metres for ST_Simplify in 27700 before transforming).
-- SRIDs: stored 27700, output 4326 (RFC 7946).
-- Indexes: ix_area_level, ix_area_set_code, ix_area_district_code, pk_area.
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(
        json_build_object(
            'type', 'Feature',
            'id', a.code,
            'geometry', ST_AsGeoJSON(
                ST_Transform(
                    CASE WHEN CAST(:simplify_m AS float) IS NULL THEN a.geom
                         ELSE ST_Simplify(a.geom, CAST(:simplify_m AS float), true) END,
                    4326),
                CAST(:precision AS int))::json,
            'properties', json_build_object(
                'code', a.code,
                'name', a.name,
                'level', a.level,
                'set_code', a.set_code,
                'parent_code', a.parent_code,
                'district_code', a.district_code,
                'households', a.households,
                'area_km2', round(a.area_km2::numeric, 4)
            )
        ) ORDER BY a.code), '[]'::json)
)::text
FROM area a
WHERE (CAST(:level AS text) IS NULL OR a.level = CAST(:level AS text))
  AND (CAST(:set_code AS text) IS NULL OR a.set_code = CAST(:set_code AS text))
  AND (CAST(:district_code AS text) IS NULL OR a.district_code = CAST(:district_code AS text))
  AND (CAST(:code AS text) IS NULL OR a.code = CAST(:code AS text))
