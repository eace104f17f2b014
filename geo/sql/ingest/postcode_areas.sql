-- Custom areas from a postcode list: each OA goes to the named area listing most of its
-- postcodes (ties: the lowest area code); an area is the union of its OAs, with their
-- households and usual residents summed. Reads ingest_stage_postcode_areas and
-- ingest_stage_postcode_area_codes (the session's staging tables). Parameters: none.
-- SRID: EPSG:27700 (area.geom), returned as EWKB hex. Indexes: pk_area.
WITH votes AS (
    SELECT c.code, c.set_code, c.area_name, s.oa_code, count(DISTINCT s.postcode_norm) AS n
    FROM ingest_stage_postcode_areas s
    JOIN ingest_stage_postcode_area_codes c ON c.set_code = s.set_code AND c.area_name = s.area_name
    GROUP BY c.code, c.set_code, c.area_name, s.oa_code
), chosen AS (
    SELECT DISTINCT ON (set_code, oa_code) code, set_code, area_name, oa_code
    FROM votes
    ORDER BY set_code, oa_code, n DESC, code
)
SELECT c.code, min(c.area_name) AS name, 'custom' AS level, c.set_code, NULL AS parent_code,
       CASE WHEN count(DISTINCT o.district_code) = 1 THEN min(o.district_code) END AS district_code,
       sum(o.households) AS households, sum(o.population) AS population,
       encode(ST_AsEWKB(ST_Multi(ST_CollectionExtract(ST_Union(o.geom), 3))), 'hex') AS geom
FROM chosen c
JOIN area o ON o.code = c.oa_code
GROUP BY c.code, c.set_code
ORDER BY c.code
