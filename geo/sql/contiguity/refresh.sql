-- Store the queen-contiguity neighbour pairs of one geography (every area of a standard
-- level, across sets: neighbouring districts loaded as separate sets still touch; or one
-- custom set): two areas are neighbours when their polygons share at least one point
-- (ST_Intersects, the strict queen rule). `touches` says they share boundary only (no
-- interior: ST_Touches), which the profile's neighbour list asks for. Each pair is stored
-- both ways, so a look-up by either code is one index range.
-- Run once per areas load (geo.ingest.batch) and when the geography's version moved;
-- readers use the pairs only while area_neighbour_state holds the current version.
-- Parameters: :geography (key), :level, :set_code (NULL unless level = 'custom'),
-- :version (the data version the pairs are computed from).
-- SRIDs: area.geom is EPSG:27700. Indexes: ix_area_level, the GiST index on area.geom.
DELETE FROM area_neighbour WHERE geography = CAST(:geography AS text);
INSERT INTO area_neighbour (geography, code, neighbour_code, touches)
WITH pairs AS (
    SELECT a.code AS left_code, b.code AS right_code, ST_Touches(a.geom, b.geom) AS touches
    FROM area a
    JOIN area b
      ON b.level = a.level
     AND (CAST(:set_code AS text) IS NULL OR b.set_code = CAST(:set_code AS text))
     AND a.code < b.code
     AND a.geom && b.geom
     AND ST_Intersects(a.geom, b.geom)
    WHERE a.level = CAST(:level AS text)
      AND (CAST(:set_code AS text) IS NULL OR a.set_code = CAST(:set_code AS text))
)
SELECT CAST(:geography AS text), left_code, right_code, touches FROM pairs
UNION ALL
SELECT CAST(:geography AS text), right_code, left_code, touches FROM pairs;
INSERT INTO area_neighbour_state (geography, version, pairs, computed_at)
SELECT CAST(:geography AS text), CAST(:version AS bigint), count(*) / 2, now()
FROM area_neighbour WHERE geography = CAST(:geography AS text)
ON CONFLICT (geography) DO UPDATE
SET version = EXCLUDED.version, pairs = EXCLUDED.pairs, computed_at = EXCLUDED.computed_at
