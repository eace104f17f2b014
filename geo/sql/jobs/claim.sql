-- Claim the oldest runnable job of a queue: queued, or running under a worker that stopped
-- heart-beating for the lease. SKIP LOCKED: concurrent workers take different jobs and never
-- wait for each other. A cancelled job is never claimed.
-- Parameters: :queue, :worker, :lease_s. SRIDs: none. Indexes: ix_job_queue_status_created.
UPDATE job j
SET status = 'running', worker = :worker, attempts = j.attempts + 1,
    started_at = now(), heartbeat_at = now()
WHERE j.id = (
    SELECT id FROM job
    WHERE queue = :queue AND NOT cancel_requested
      AND (status = 'queued'
           OR (status = 'running'
               AND heartbeat_at < now() - make_interval(secs => CAST(:lease_s AS double precision))))
    ORDER BY created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING j.id, j.kind, j.payload
