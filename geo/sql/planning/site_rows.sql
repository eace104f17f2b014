-- Sites as plain rows for the solvers: coordinates in metres and WGS84, road node.
-- Parameters: :kinds (text[] or NULL), :ids (int[] or NULL).
-- SRIDs: site.geom 27700; x, y in 27700 metres; lng, lat in 4326.
-- Indexes: pk_site.
SELECT s.id, s.name, s.kind, s.is_existing, s.capacity, s.road_node, s.oa_code, s.address_text,
       ST_X(s.geom) AS x, ST_Y(s.geom) AS y,
       ST_X(ST_Transform(s.geom, 4326)) AS lng, ST_Y(ST_Transform(s.geom, 4326)) AS lat
FROM site s
WHERE (CAST(:kinds AS text[]) IS NULL OR s.kind = ANY(CAST(:kinds AS text[])) OR s.is_existing)
  AND (CAST(:ids AS int[]) IS NULL OR s.id = ANY(CAST(:ids AS int[])) OR s.is_existing)
ORDER BY s.is_existing DESC, s.id
