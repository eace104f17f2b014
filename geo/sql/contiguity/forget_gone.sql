-- Drop the stored pairs of geographies that no longer have any area.
-- Parameters: none. No geometry. Indexes: pk_area_neighbour_state, ix_area_level.
DELETE FROM area_neighbour n
WHERE NOT EXISTS (
    SELECT 1 FROM area a
    WHERE CASE WHEN a.level = 'custom' THEN 'set:' || a.set_code ELSE 'level:' || a.level END = n.geography
);
DELETE FROM area_neighbour_state s
WHERE NOT EXISTS (SELECT 1 FROM area_neighbour n WHERE n.geography = s.geography)
  AND NOT EXISTS (
    SELECT 1 FROM area a
    WHERE CASE WHEN a.level = 'custom' THEN 'set:' || a.set_code ELSE 'level:' || a.level END = s.geography
)
