-- One job of a queue, with its result.
-- Parameters: :id, :queue. SRIDs: none. Indexes: pk_job.
SELECT id, kind, params, status, progress, created_at, started_at, finished_at, error, result
FROM job WHERE id = :id AND queue = :queue
