-- Store a running job's progress and heart-beat; say whether it has been cancelled.
-- No row comes back when the job is no longer this worker's (it was claimed again).
-- Parameters: :id, :worker, :progress. SRIDs: none. Indexes: pk_job.
UPDATE job SET progress = greatest(progress, :progress), heartbeat_at = now()
WHERE id = :id AND worker = :worker AND status = 'running'
RETURNING cancel_requested
