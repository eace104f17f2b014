-- Ingest batches, newest first, with their reports and rejected-row counts.
-- Parameters: :id (one batch, or NULL for all), :limit. No geometry.
-- Indexes: pk_ingest_batch; ix_ingest_rejected_row_batch_id.
SELECT b.id, b.kind, b.filename, b.sha256, b.status, b.started_at, b.finished_at,
       b.rows_received, b.rows_loaded, b.created_by, b.report,
       (SELECT count(*) FROM ingest_rejected_row r WHERE r.batch_id = b.id) AS rows_rejected
FROM ingest_batch b
WHERE CAST(:id AS integer) IS NULL OR b.id = :id
ORDER BY b.id DESC
LIMIT :limit
