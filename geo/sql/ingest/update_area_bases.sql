-- Bases per area (households, usual residents) from the staged batch; a base the file
-- leaves empty keeps its stored value. Parameters: none. No geometry. Indexes: pk_area.
UPDATE area a
SET households = COALESCE(s.households, a.households),
    population = COALESCE(s.population, a.population)
FROM ingest_stage_area_bases s
WHERE a.code = s.area_code
