-- Stored queen neighbour pairs among a list of areas, each pair once (left < right).
-- Parameters: :geographies (text[]), :codes (text[]). No geometry.
-- Indexes: pk_area_neighbour (geography, code, neighbour_code).
SELECT code AS left_code, neighbour_code AS right_code
FROM area_neighbour
WHERE geography = ANY(CAST(:geographies AS text[]))
  AND code = ANY(CAST(:codes AS text[]))
  AND neighbour_code = ANY(CAST(:codes AS text[]))
  AND code < neighbour_code
