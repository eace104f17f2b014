-- Every road link as an edge list for the in-memory travel graph (geo.planning.network).
-- Parameters: none.
-- SRIDs: none returned (lengths in metres, costs in seconds, both stored on road_link).
-- Indexes: pk_road_link (sequential scan of the whole table is intended).
SELECT l.id, l.source, l.target, l.length_m, l.cost_s
FROM road_link l
ORDER BY l.id
