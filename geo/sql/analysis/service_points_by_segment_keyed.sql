-- Primary service events per (point, segment, household) in WGS84 with record keys, for
-- the public H3 inputs (cell-key perturbation, geo/disclosure.py). Same rows as
-- service_points_by_segment.sql plus event_keys = sum(hashint8extended(id, :seed) & 255)
-- and household_record_key = hashtextextended(household_key, :seed) & 255.
-- Parameters: :resolution (H3, <= 12), :service, :classification, :within, :date_from, :date_to, :seed (bigint).
-- An event at an address with a stored H3 cell (address.h3_cells, issue 17) comes as that cell at
-- :resolution (`cell`); others (own point, or a cell not filled yet) as lng/lat.
-- SRIDs: address.geom / service_event.geom 27700 -> output lng/lat 4326.
-- Indexes: ix_service_event_service_date, pk_address, pk_household_segment.
WITH cls AS (
    SELECT unit FROM classification WHERE code = :classification
), ev AS (
    SELECT e.id, e.household_key, e.oa_code,
           CASE WHEN ad.h3_cells IS NULL THEN ST_Transform(coalesce(ad.geom, e.geom), 4326) END AS g,
           to_hex(ad.h3_cells[CAST(:resolution AS integer) - 4]) AS cell,
           CASE WHEN (SELECT unit FROM cls) = 'household' THEN hs.segment_code
                ELSE asg.segment_code END AS segment_code
    FROM service_event e
    LEFT JOIN address ad ON ad.uprn = e.uprn
    LEFT JOIN household_segment hs
           ON (SELECT unit FROM cls) = 'household'
          AND hs.uprn = e.uprn AND hs.classification_code = :classification
    LEFT JOIN area_segment asg
           ON (SELECT unit FROM cls) = 'area'
          AND asg.area_code = e.oa_code AND asg.classification_code = :classification
    WHERE e.service_code = :service
      AND e.is_primary
      AND (CAST(:date_from AS date) IS NULL OR e.event_date >= CAST(:date_from AS date))
      AND (CAST(:date_to AS date) IS NULL OR e.event_date <= CAST(:date_to AS date))
      AND (CAST(:within AS text) IS NULL OR EXISTS (
            SELECT 1 FROM area_membership w
            WHERE w.oa_code = e.oa_code AND w.area_code = CAST(:within AS text)))
)
SELECT ST_X(g) AS lng, ST_Y(g) AS lat, cell, segment_code, household_key, count(*)::bigint AS events,
       sum(hashint8extended(id, CAST(:seed AS bigint)) & 255)::bigint AS event_keys,
       (hashtextextended(coalesce(household_key, ''), CAST(:seed AS bigint)) & 255)::bigint
           AS household_record_key
FROM ev
WHERE g IS NOT NULL OR cell IS NOT NULL
GROUP BY 1, 2, 3, 4, 5
