-- Existing offices and candidate venues as a GeoJSON FeatureCollection (WGS84).
-- Parameters: :kinds (text[] or NULL = any kind), :existing (bool or NULL = both),
--   :ids (int[] or NULL = all).
-- SRIDs: site.geom 27700 -> output 4326 (RFC 7946), 6 decimals (~0.1 m).
-- Indexes: pk_site (the table is small: a sequential scan is intended).
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(
        json_build_object(
            'type', 'Feature',
            'id', s.id,
            'geometry', ST_AsGeoJSON(ST_Transform(s.geom, 4326), 6)::json,
            'properties', json_build_object(
                'site_id', s.id,
                'name', s.name,
                'kind', s.kind,
                'is_existing', s.is_existing,
                'capacity', s.capacity,
                'address_text', s.address_text,
                'oa_code', s.oa_code
            )
        ) ORDER BY s.is_existing DESC, s.kind, s.name, s.id), '[]'::json)
)::text
FROM site s
WHERE (CAST(:kinds AS text[]) IS NULL OR s.kind = ANY(CAST(:kinds AS text[])))
  AND (CAST(:existing AS boolean) IS NULL OR s.is_existing = CAST(:existing AS boolean))
  AND (CAST(:ids AS int[]) IS NULL OR s.id = ANY(CAST(:ids AS int[])))
