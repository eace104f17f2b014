-- Residential addresses per (point, segment) in WGS84, for aggregation to H3 cells.
-- Household-level classifications use each address's own segment; area-level ones
-- (OAC per output area) the segment of its output area. Unclassified: segment NULL.
-- Parameters: :resolution (H3, <= 12), :classification, :within (NULL or an area code whose OAs bound the study).
-- Each address's stored H3 cell (address.h3_cells, issue 17) at :resolution is `cell`; only an
-- address without one (not filled yet) comes as lng/lat for the caller to place.
-- SRIDs: address.geom 27700 -> output lng/lat 4326 (H3 works on WGS84).
-- Indexes: ix_address_oa_code, pk_household_segment, pk_area_segment, pk_area_membership.
WITH cls AS (
    SELECT unit FROM classification WHERE code = :classification
), pts AS (
    SELECT ad.uprn, ad.oa_code,
           CASE WHEN ad.h3_cells IS NULL THEN ST_Transform(ad.geom, 4326) END AS g,
           to_hex(ad.h3_cells[CAST(:resolution AS integer) - 4]) AS cell
    FROM address ad
    WHERE ad.is_residential AND ad.geom IS NOT NULL AND ad.oa_code IS NOT NULL
      AND (CAST(:within AS text) IS NULL OR ad.oa_code IN (
            SELECT w.oa_code FROM area_membership w WHERE w.area_code = CAST(:within AS text)))
)
SELECT ST_X(p.g) AS lng, ST_Y(p.g) AS lat, p.cell,
       CASE WHEN (SELECT unit FROM cls) = 'household' THEN hs.segment_code
            ELSE asg.segment_code END AS segment_code,
       count(*)::bigint AS households
FROM pts p
LEFT JOIN household_segment hs
       ON (SELECT unit FROM cls) = 'household'
      AND hs.uprn = p.uprn AND hs.classification_code = :classification
LEFT JOIN area_segment asg
       ON (SELECT unit FROM cls) = 'area'
      AND asg.area_code = p.oa_code AND asg.classification_code = :classification
GROUP BY 1, 2, 3, 4
