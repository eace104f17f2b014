-- Sites (existing offices and candidate venues) as an MVT point layer.
-- Parameters: :z, :x, :y; :extent, :buffer; :max_features; :layer_name.
-- SRIDs: site.geom is EPSG:27700 (few rows, no web-mercator copy): the envelope is
--   transformed to 27700 for the index test, and each point to 3857 for encoding.
-- Indexes: GiST on site.geom.
WITH
bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => CAST(:buffer AS float8) / :extent), 27700)
               AS env_27700
),
mvtgeom AS (
    SELECT
        ST_AsMVTGeom(ST_Transform(s.geom, 3857), b.env, :extent, :buffer, true) AS geom,
        s.id, s.name, s.kind, s.is_existing, s.capacity
    FROM site s, bounds b
    WHERE s.geom && b.env_27700
    ORDER BY s.id
    LIMIT :max_features
)
SELECT ST_AsMVT(mvtgeom, :layer_name, :extent, 'geom', 'id') AS tile
FROM mvtgeom
WHERE geom IS NOT NULL
