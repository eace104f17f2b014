-- Record a job's end (done with its result, failed or cancelled), if it is still this worker's.
-- The payload is dropped: a finished job is never run again (an uploaded file's bytes go).
-- Parameters: :id, :worker, :status, :error, :result (bytea or NULL). SRIDs: none. Indexes: pk_job.
UPDATE job
SET status = CAST(:status AS varchar), error = :error, result = :result, finished_at = now(), payload = NULL,
    progress = CASE WHEN CAST(:status AS varchar) = 'done' THEN 1 ELSE progress END
WHERE id = :id AND worker = :worker AND status = 'running'
