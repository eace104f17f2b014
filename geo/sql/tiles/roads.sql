-- The demo's road network (road_link) as a basemap MVT layer; minor roads only when
-- zoomed in. pg_tileserv's three steps.
-- Parameters: :z, :x, :y; :extent, :buffer; :tolerance_m (EPSG:3857 metres, 0 = none);
--   :max_features; :layer_name; :min_zoom_minor (zoom from which streets and lanes show).
-- SRIDs: road_link.geom_3857 (EPSG:3857) only.
-- Indexes: GiST on road_link.geom_3857.
WITH
bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env,
           ST_TileEnvelope(:z, :x, :y, margin => CAST(:buffer AS float8) / :extent) AS env_margin
),
mvtgeom AS (
    SELECT
        ST_AsMVTGeom(
            CASE WHEN :tolerance_m > 0 THEN ST_Simplify(r.geom_3857, :tolerance_m) ELSE r.geom_3857 END,
            b.env, :extent, :buffer, true) AS geom,
        r.id, r.name, r.road_class
    FROM road_link r, bounds b
    WHERE r.geom_3857 && b.env_margin
      AND (r.road_class IN ('a_road', 'b_road') OR :z >= :min_zoom_minor)
    ORDER BY r.id
    LIMIT :max_features
)
SELECT ST_AsMVT(mvtgeom, :layer_name, :extent, 'geom', 'id') AS tile
FROM mvtgeom
WHERE geom IS NOT NULL
