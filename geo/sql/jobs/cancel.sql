-- Cancel a job: a queued one is cancelled at once, a running one is flagged and stops at its
-- next progress report; a finished one is left as it is. Returns the id when the job exists.
-- Parameters: :id, :queue. SRIDs: none. Indexes: pk_job.
UPDATE job
SET cancel_requested = status IN ('queued', 'running') OR cancel_requested,
    status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
    error = CASE WHEN status = 'queued' THEN 'cancelled' ELSE error END,
    finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END
WHERE id = :id AND queue = :queue
RETURNING id
