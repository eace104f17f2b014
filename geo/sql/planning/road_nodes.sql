-- Road nodes with their British National Grid coordinates, for the travel graph.
-- Parameters: none.
-- SRIDs: road_node.geom 27700; x, y returned in metres (27700).
-- Indexes: pk_road_node.
SELECT n.id, ST_X(n.geom) AS x, ST_Y(n.geom) AS y
FROM road_node n
ORDER BY n.id
