-- Before an area-classification batch writes: each (area, classification) it is about to
-- write, with the class it had (null: none), so undo can put it back.
-- Parameters: :batch_id. No geometry. Indexes: pk_area_segment, pk_ingest_superseded.
INSERT INTO ingest_superseded (batch_id, table_name, key, previous)
SELECT DISTINCT ON (s.area_code, s.classification_code)
       :batch_id, 'area_segment', s.area_code || '|' || s.classification_code,
       CASE WHEN a.area_code IS NULL THEN NULL
            ELSE jsonb_build_object('segment_code', a.segment_code, 'batch_id', a.batch_id) END
FROM ingest_stage_area_classification s
LEFT JOIN area_segment a ON a.area_code = s.area_code AND a.classification_code = s.classification_code
ON CONFLICT DO NOTHING
