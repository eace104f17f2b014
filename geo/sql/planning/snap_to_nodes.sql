-- Nearest road node to each input point, by PostGIS KNN (<->) on the GiST index.
-- Parameters: :xs, :ys (float8[] of British National Grid coordinates, same length).
-- SRIDs: input points built in 27700 to match road_node.geom; snap_m in metres.
-- Indexes: ix_road_node_geom (GiST, KNN ordering).
SELECT p.ord, nn.id AS node_id, nn.snap_m
FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, ord)
CROSS JOIN LATERAL (
    SELECT n.id, ST_Distance(n.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 27700)) AS snap_m
    FROM road_node n
    ORDER BY n.geom <-> ST_SetSRID(ST_MakePoint(p.x, p.y), 27700)
    LIMIT 1
) nn
ORDER BY p.ord
