-- Stitch the road links of a route, in order and each oriented the way it is driven, into
-- one GeoJSON LineString (WGS84) that follows the roads.
-- Parameters: :link_ids (bigint[], in driving order), :from_nodes (bigint[], the node each
--   link is entered from; a link entered from its target is reversed).
-- SRIDs: road_link.geom 27700 -> output 4326 (RFC 7946), 7 decimals (~1 cm).
-- Indexes: pk_road_link.
WITH legs AS (
    SELECT r.ord, l.geom, (l.source = r.from_node) AS forward
    FROM unnest(CAST(:link_ids AS bigint[]), CAST(:from_nodes AS bigint[])) WITH ORDINALITY
         AS r(link_id, from_node, ord)
    JOIN road_link l ON l.id = r.link_id
)
SELECT ST_AsGeoJSON(
    ST_Transform(
        ST_RemoveRepeatedPoints(
            ST_MakeLine(array_agg(CASE WHEN forward THEN geom ELSE ST_Reverse(geom) END ORDER BY ord))),
        4326),
    7) AS geojson,
    count(*) AS links
FROM legs
