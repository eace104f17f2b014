-- Queen-contiguity neighbour pairs among a list of areas: two areas are neighbours when
-- their polygons share at least one point (ST_Intersects; ST_DWithin with a tolerance in
-- metres forgives slivers between polygons digitised separately). Each pair once (a < b).
-- Parameters: :codes (text[] of area codes), :tolerance_m (float, 0 = strict queen).
-- SRIDs: area.geom in 27700, so the tolerance is in metres.
-- Indexes: pk_area (code = ANY), GiST on area.geom (the && / ST_DWithin join).
SELECT a.code AS left_code, b.code AS right_code
FROM area a
JOIN area b
  ON b.code = ANY(CAST(:codes AS text[]))
 AND a.code < b.code
 AND ST_DWithin(a.geom, b.geom, CAST(:tolerance_m AS float))
WHERE a.code = ANY(CAST(:codes AS text[]))
