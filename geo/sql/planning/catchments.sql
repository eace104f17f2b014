-- Catchment polygons: the union of the output areas each site serves, GeoJSON in WGS84.
-- Parameters: :site_ids (int[]) and :oa_codes (text[]), parallel: OA oa_codes[k] is served
--   by site site_ids[k].
-- SRIDs: area.geom 27700, unioned in 27700 (metres), output 4326 snapped to 1e-6 degrees.
-- The union is taken of OAs grown by 0.5 m and shrunk back, which closes sub-metre
-- slivers between neighbouring OA edges; the output is snapped to the GeoJSON precision
-- and made valid there, because rounding after the transform can otherwise collapse
-- tiny rings into invalid ones.
-- Indexes: pk_area.
WITH served AS (
    SELECT c.site_id, a.geom
    FROM unnest(CAST(:site_ids AS int[]), CAST(:oa_codes AS text[])) AS c(site_id, oa_code)
    JOIN area a ON a.code = c.oa_code
), merged AS (
    SELECT site_id,
           ST_Buffer(ST_Union(ST_Buffer(geom, 0.5)), -0.5) AS geom,
           sum(ST_Area(geom)) AS area_m2
    FROM served
    GROUP BY site_id
)
SELECT site_id,
       ST_AsGeoJSON(
           ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SnapToGrid(ST_Transform(geom, 4326), 1e-6)), 3)),
           6) AS geojson,
       round((area_m2 / 1e6)::numeric, 4) AS area_km2
FROM merged
ORDER BY site_id
