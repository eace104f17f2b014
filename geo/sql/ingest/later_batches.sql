-- Loaded batches written after :batch_id over any key it wrote (they block its undo).
-- Parameters: :batch_id. No geometry. Indexes: ix_ingest_superseded_key.
SELECT DISTINCT b.id, b.kind, b.filename
FROM ingest_superseded h
JOIN ingest_superseded l ON l.table_name = h.table_name AND l.key = h.key AND l.batch_id > h.batch_id
JOIN ingest_batch b ON b.id = l.batch_id AND b.status = 'loaded'
WHERE h.batch_id = :batch_id
ORDER BY b.id
