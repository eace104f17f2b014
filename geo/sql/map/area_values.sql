-- Every area of one level (or custom set) with the figures the map colours by, for class
-- breaks over the whole study area (not only the tiles in view). Same figures and the same
-- small-count rule as tiles/areas.sql, without geometry.
-- Parameters: :date_from, :date_to (events counted between, inclusive; NULL = open); :level; :set_code (NULL = any set); :service (NULL = households only);
--   :threshold (0 = show every count; else counts 1..threshold are hidden and what is
--   derived from them left out); :measures (jsonb array {area_code, expected, ratio, class,
--   unmet} from the analyses, or NULL); :only_classed (the hotspots layer).
-- Indexes: ix_area_membership_level_area (area_code); ix_service_event_service_oa.
WITH
measures AS (
    SELECT * FROM jsonb_to_recordset(coalesce(CAST(:measures AS jsonb), '[]'::jsonb))
        AS ms(area_code text, expected float8, ratio float8, class text, unmet float8)
),
areas AS (
    SELECT a.code, a.households
    FROM area a
    WHERE a.level = :level
      AND (CAST(:set_code AS text) IS NULL OR a.set_code = CAST(:set_code AS text))
      AND (NOT :only_classed
           OR a.code IN (SELECT area_code FROM measures WHERE class IN ('hot', 'not')))
),
use AS (
    SELECT m.area_code, count(*) AS events, count(DISTINCT e.uprn) AS users
    FROM areas a
    JOIN area_membership m ON m.area_code = a.code
    JOIN service_event e
      ON e.oa_code = m.oa_code AND e.service_code = CAST(:service AS text) AND e.is_primary
     AND (CAST(:date_from AS date) IS NULL OR e.event_date >= CAST(:date_from AS date))
     AND (CAST(:date_to AS date) IS NULL OR e.event_date <= CAST(:date_to AS date))
    WHERE CAST(:service AS text) IS NOT NULL
    GROUP BY m.area_code
)
SELECT a.code,
       a.households,
       coalesce(u.events, 0) AS events,
       coalesce(u.users, 0) AS users,
       ms.expected, ms.ratio, ms.class, ms.unmet,
       (a.households BETWEEN 1 AND :threshold) AS hide_households,
       (coalesce(u.users, 0) BETWEEN 1 AND :threshold
        OR coalesce(u.events, 0) BETWEEN 1 AND :threshold) AS hide_use
FROM areas a
LEFT JOIN use u ON u.area_code = a.code
LEFT JOIN measures ms ON ms.area_code = a.code
ORDER BY a.code
