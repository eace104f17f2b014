-- Areas of one level (wards, LSOAs, OAs) or of one custom area set as an MVT layer, with
-- the attributes a choropleth needs; pg_tileserv's three steps (bounds, mvtgeom, ST_AsMVT).
-- Parameters: :z, :x, :y (tile address, checked in geo.tiles); :extent, :buffer (tile units);
--   :tolerance_m (ST_Simplify tolerance in EPSG:3857 metres, 0 = none); :max_features;
--   :layer_name; :date_from, :date_to (events counted between, inclusive; NULL = open); :level (oa|lsoa|ward|custom); :set_code (NULL = any set);
--   :service (NULL = no service measures); :threshold (0 = show every count, else counts
--   1..threshold are shown as :label, and the figures derived from them are left out, the
--   geo.disclosure rule); :label ('<5'); :measures (jsonb array of per-area measures from
--   the analyses: {area_code, expected, ratio, class, unmet}, or NULL); :only_classed (true:
--   only areas whose class is hot or not, the hotspots layer).
--   Public callers (geo.disclosure): :perturb (cell-key perturbation on), :seed (record-key
--   seed), :ptable (int[] the perturbation table row by row, TABLE_ROWS x 256),
--   :min_households (areas with fewer households are left out; 0 = all). Record keys:
--   events hashint8extended(id, seed) & 255, users (UPRNs) hashint8extended(uprn, seed) & 255,
--   household i of area c hashtextextended(c || ':' || i, seed) & 255.
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
      AND a.households >= CAST(:min_households AS int)
    ORDER BY a.code
    LIMIT :max_features
),
use AS (
    -- Primary events, and households (UPRNs) with at least one, per area, rolled up from
    -- output areas through area_membership (an OA is a member of itself).
    SELECT m.area_code, count(*) AS events, count(DISTINCT e.uprn) AS users,
           CASE WHEN :perturb THEN sum(hashint8extended(e.id, CAST(:seed AS bigint)) & 255) END
               AS events_key,
           CASE WHEN :perturb THEN (SELECT sum(hashint8extended(u, CAST(:seed AS bigint)) & 255)
                                    FROM unnest(array_agg(DISTINCT e.uprn)) u) END AS users_key
    FROM areas a
    JOIN area_membership m ON m.area_code = a.code
    JOIN service_event e
      ON e.oa_code = m.oa_code AND e.service_code = CAST(:service AS text) AND e.is_primary
     AND (CAST(:date_from AS date) IS NULL OR e.event_date >= CAST(:date_from AS date))
     AND (CAST(:date_to AS date) IS NULL OR e.event_date <= CAST(:date_to AS date))
    WHERE CAST(:service AS text) IS NOT NULL
    GROUP BY m.area_code
),
true_figures AS (
    SELECT a.code, a.name, a.households, a.geom_3857,
           coalesce(u.events, 0) AS events, coalesce(u.users, 0) AS users,
           coalesce(u.events_key, 0) AS events_key, coalesce(u.users_key, 0) AS users_key,
           CASE WHEN :perturb THEN (
               SELECT coalesce(sum(hashtextextended(a.code || ':' || g, CAST(:seed AS bigint)) & 255), 0)
               FROM generate_series(1, a.households) g) ELSE 0 END AS households_key
    FROM areas a
    LEFT JOIN use u ON u.area_code = a.code
),
perturbed AS (
    -- value + ptable[min(value, rows - 1), key mod 256], never below zero (geo.disclosure.perturb)
    SELECT t.code, t.name, t.geom_3857,
           CASE WHEN :perturb THEN greatest(t.households + (CAST(:ptable AS int[]))[
               least(t.households, 20) * 256 + (t.households_key % 256)::int + 1], 0)
                ELSE t.households END AS households,
           CASE WHEN :perturb THEN greatest(t.events + (CAST(:ptable AS int[]))[
               least(t.events, 20) * 256 + (t.events_key % 256)::int + 1], 0)
                ELSE t.events END AS events,
           CASE WHEN :perturb THEN greatest(t.users + (CAST(:ptable AS int[]))[
               least(t.users, 20) * 256 + (t.users_key % 256)::int + 1], 0)
                ELSE t.users END AS users
    FROM true_figures t
),
figures AS (
    SELECT a.code, a.name, a.households, a.geom_3857,
           a.events, a.users,
           ms.expected, ms.ratio, ms.class, ms.unmet,
           -- a count is hidden when 1 <= count <= threshold (zero discloses nothing)
           (a.households BETWEEN 1 AND :threshold) AS hide_households,
           (a.users BETWEEN 1 AND :threshold
            OR a.events BETWEEN 1 AND :threshold) AS hide_use
    FROM perturbed a
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
