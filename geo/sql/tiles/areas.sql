-- Areas of one level (wards, LSOAs, OAs) or of one custom area set as an MVT layer, with
-- the attributes a choropleth needs; pg_tileserv's three steps (bounds, mvtgeom, ST_AsMVT).
-- Parameters: :z, :x, :y (tile address, checked in geo.tiles); :extent, :buffer (tile units);
--   :tolerance_m (ST_Simplify tolerance in EPSG:3857 metres, 0 = none); :max_features;
--   :layer_name; :level (oa|lsoa|ward|custom); :set_code (NULL = any set);
--   :service (NULL = no service measures); :threshold (0 = show every count, else counts
--   1..threshold are shown as :label, and the figures derived from them are left out, the
--   geo.disclosure rule); :label ('<5'); :measures (jsonb array of per-area measures from
--   the analyses: {area_code, expected, ratio, class, unmet}, or NULL); :only_classed (true:
--   only areas whose class is hot or not, the hotspots layer).
-- SRIDs: area.geom_3857 (EPSG:3857) only: no per-request transform.
-- Indexes: GiST on area.geom_3857; ix_area_membership_level_area (area_code);
--   ix_service_event_service_oa (service_code, oa_code).
WITH
bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env,
           ST_TileEnvelope(:z, :x, :y, margin => CAST(:buffer AS float8) / :extent) AS env_margin
),
measures AS (
    SELECT * FROM jsonb_to_recordset(coalesce(CAST(:measures AS jsonb), '[]'::jsonb))
        AS ms(area_code text, expected float8, ratio float8, class text, unmet float8)
),
areas AS (
    SELECT a.code, a.name, a.households, a.geom_3857
    FROM area a, bounds b
    WHERE a.geom_3857 && b.env_margin
      AND a.level = :level
      AND (CAST(:set_code AS text) IS NULL OR a.set_code = CAST(:set_code AS text))
      AND (NOT :only_classed
           OR a.code IN (SELECT area_code FROM measures WHERE class IN ('hot', 'not')))
    ORDER BY a.code
    LIMIT :max_features
),
use AS (
    -- Primary events, and households (UPRNs) with at least one, per area, rolled up from
    -- output areas through area_membership (an OA is a member of itself).
    SELECT m.area_code, count(*) AS events, count(DISTINCT e.uprn) AS users
    FROM areas a
    JOIN area_membership m ON m.area_code = a.code
    JOIN service_event e
      ON e.oa_code = m.oa_code AND e.service_code = CAST(:service AS text) AND e.is_primary
    WHERE CAST(:service AS text) IS NOT NULL
    GROUP BY m.area_code
),
figures AS (
    SELECT a.code, a.name, a.households, a.geom_3857,
           coalesce(u.events, 0) AS events, coalesce(u.users, 0) AS users,
           ms.expected, ms.ratio, ms.class, ms.unmet,
           -- a count is hidden when 1 <= count <= threshold (zero discloses nothing)
           (a.households BETWEEN 1 AND :threshold) AS hide_households,
           (coalesce(u.users, 0) BETWEEN 1 AND :threshold
            OR coalesce(u.events, 0) BETWEEN 1 AND :threshold) AS hide_use
    FROM areas a
    LEFT JOIN use u ON u.area_code = a.code
    LEFT JOIN measures ms ON ms.area_code = a.code
),
mvtgeom AS (
    SELECT
        ST_AsMVTGeom(
            CASE WHEN :tolerance_m > 0 THEN ST_Simplify(f.geom_3857, :tolerance_m) ELSE f.geom_3857 END,
            b.env, :extent, :buffer, true) AS geom,
        f.code,
        f.name,
        -- jsonb: ST_AsMVT writes each key as a property with its own type, so a suppressed
        -- count can be the label while the others stay numbers; nulls are left out.
        jsonb_strip_nulls(jsonb_build_object(
            'households', CASE WHEN f.hide_households THEN to_jsonb(CAST(:label AS text))
                               ELSE to_jsonb(f.households) END,
            'events', CASE WHEN CAST(:service AS text) IS NULL THEN NULL
                           WHEN f.hide_use THEN to_jsonb(CAST(:label AS text))
                           ELSE to_jsonb(f.events) END,
            'users', CASE WHEN CAST(:service AS text) IS NULL THEN NULL
                          WHEN f.hide_use THEN to_jsonb(CAST(:label AS text))
                          ELSE to_jsonb(f.users) END,
            'takeup', CASE WHEN CAST(:service AS text) IS NULL OR f.hide_use OR f.hide_households
                                OR f.households = 0 THEN NULL
                           ELSE to_jsonb(round(CAST(f.users AS numeric) / f.households, 4)) END,
            'expected', CASE WHEN f.hide_use OR f.hide_households THEN NULL
                             ELSE to_jsonb(round(CAST(f.expected AS numeric), 2)) END,
            'ratio', CASE WHEN f.hide_use OR f.hide_households THEN NULL
                          ELSE to_jsonb(round(CAST(f.ratio AS numeric), 4)) END,
            'class', to_jsonb(f.class),
            'unmet', CASE WHEN f.hide_use OR f.hide_households THEN NULL
                          ELSE to_jsonb(round(CAST(f.unmet AS numeric), 2)) END
        )) AS props
    FROM figures f, bounds b
)
SELECT ST_AsMVT(mvtgeom, :layer_name, :extent, 'geom') AS tile
FROM mvtgeom
WHERE geom IS NOT NULL
