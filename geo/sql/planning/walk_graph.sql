-- Road links people can walk along, for the walking graph (geo.planning.network.walk_graph).
-- Motorways (and their slip roads) are left out: nobody walks them; every other class is
-- walkable both ways at the pedestrian speed, so only the length matters.
-- Parameters: none.
-- SRIDs: none returned (lengths in metres).
-- Indexes: pk_road_link (sequential scan of the whole table is intended).
SELECT l.id, l.source, l.target, l.length_m
FROM road_link l
WHERE l.road_class NOT IN ('motorway', 'motorway_link')
ORDER BY l.id
