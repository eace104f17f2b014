-- H3 hexagon aggregates as an MVT layer. The cells are chosen and counted in Python
-- (geo.tiles, with h3 >= 4, cached per data version) and arrive as parallel arrays; PostGIS
-- only clips and encodes them, so the tile has the same three steps as the others.
-- Parameters: :z, :x, :y; :extent, :buffer; :layer_name; :resolution (H3 resolution);
--   :cells (text[] H3 indexes), :wkb (bytea[] hexagons, EPSG:3857), :households (int[]),
--   :events (int[], NULL entries without a service), :users (int[]); :threshold and :label
--   (the geo.disclosure rule, as in areas.sql).
-- SRIDs: the hexagons arrive in EPSG:3857.
-- Indexes: none (the arrays hold only the cells near this tile).
WITH
bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env
),
cells AS (
    SELECT c.cell, ST_GeomFromWKB(c.wkb, 3857) AS geom, c.households, c.events, c.users,
           (c.households BETWEEN 1 AND :threshold) AS hide_households,
           (c.users BETWEEN 1 AND :threshold OR c.events BETWEEN 1 AND :threshold) AS hide_use
    FROM unnest(CAST(:cells AS text[]), CAST(:wkb AS bytea[]), CAST(:households AS int[]),
                CAST(:events AS int[]), CAST(:users AS int[]))
        AS c(cell, wkb, households, events, users)
),
mvtgeom AS (
    SELECT
        ST_AsMVTGeom(c.geom, b.env, :extent, :buffer, true) AS geom,
        c.cell,
        CAST(:resolution AS int) AS resolution,
        jsonb_strip_nulls(jsonb_build_object(
            'households', CASE WHEN c.hide_households THEN to_jsonb(CAST(:label AS text))
                               ELSE to_jsonb(c.households) END,
            'events', CASE WHEN c.events IS NULL THEN NULL
                           WHEN c.hide_use THEN to_jsonb(CAST(:label AS text))
                           ELSE to_jsonb(c.events) END,
            'users', CASE WHEN c.users IS NULL THEN NULL
                          WHEN c.hide_use THEN to_jsonb(CAST(:label AS text))
                          ELSE to_jsonb(c.users) END,
            'takeup', CASE WHEN c.users IS NULL OR c.hide_use OR c.hide_households
                                OR c.households = 0 THEN NULL
                           ELSE to_jsonb(round(CAST(c.users AS numeric) / c.households, 4)) END
        )) AS props
    FROM cells c, bounds b
)
SELECT ST_AsMVT(mvtgeom, :layer_name, :extent, 'geom') AS tile
FROM mvtgeom
WHERE geom IS NOT NULL
