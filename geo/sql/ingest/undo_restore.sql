-- Undo a batch of a kind that writes in place: keys it created are removed, keys it
-- overwrote get their earlier values back (ingest_superseded). Run only when no later
-- loaded batch wrote the same keys (later_batches.sql).
-- Parameters: :batch_id. SRID: postcode geometry restored from EWKB (EPSG:27700).
-- Indexes: pk_ingest_superseded, pk_area_segment, pk_area, pk_postcode, pk_area_vintage_lookup.
DELETE FROM area_segment a
USING ingest_superseded h
WHERE h.batch_id = :batch_id AND h.table_name = 'area_segment' AND h.previous IS NULL
  AND a.area_code = split_part(h.key, '|', 1) AND a.classification_code = split_part(h.key, '|', 2);

UPDATE area_segment a
SET segment_code = h.previous->>'segment_code', batch_id = CAST(h.previous->>'batch_id' AS integer)
FROM ingest_superseded h
WHERE h.batch_id = :batch_id AND h.table_name = 'area_segment' AND h.previous IS NOT NULL
  AND a.area_code = split_part(h.key, '|', 1) AND a.classification_code = split_part(h.key, '|', 2);

UPDATE area a
SET households = CAST(h.previous->>'households' AS integer),
    population = CAST(h.previous->>'population' AS integer)
FROM ingest_superseded h
WHERE h.batch_id = :batch_id AND h.table_name = 'area_bases' AND a.code = h.key;

DELETE FROM postcode p
USING ingest_superseded h
WHERE h.batch_id = :batch_id AND h.table_name = 'postcode' AND h.previous IS NULL AND p.postcode_norm = h.key;

UPDATE postcode p
SET postcode = h.previous->>'postcode', oa_code = h.previous->>'oa_code',
    district_code = h.previous->>'district_code',
    geom = ST_GeomFromEWKB(decode(h.previous->>'geom', 'hex'))
FROM ingest_superseded h
WHERE h.batch_id = :batch_id AND h.table_name = 'postcode' AND h.previous IS NOT NULL AND p.postcode_norm = h.key;

DELETE FROM area_vintage_lookup l
USING ingest_superseded h
WHERE h.batch_id = :batch_id AND h.table_name = 'area_vintage_lookup' AND h.previous IS NULL
  AND l.oa11_code = split_part(h.key, '|', 1) AND l.oa21_code = split_part(h.key, '|', 2);

UPDATE area_vintage_lookup l
SET change = h.previous->>'change', district_code = h.previous->>'district_code',
    batch_id = CAST(h.previous->>'batch_id' AS integer)
FROM ingest_superseded h
WHERE h.batch_id = :batch_id AND h.table_name = 'area_vintage_lookup' AND h.previous IS NOT NULL
  AND l.oa11_code = split_part(h.key, '|', 1) AND l.oa21_code = split_part(h.key, '|', 2)
