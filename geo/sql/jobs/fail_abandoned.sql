-- Give up on running jobs whose worker stopped heart-beating after the last allowed attempt.
-- Parameters: :queue, :lease_s, :max_attempts. SRIDs: none. Indexes: ix_job_queue_status_created.
UPDATE job
SET status = 'failed', finished_at = now(),
    error = format('its worker stopped %s times; not retried', attempts)
WHERE queue = :queue AND status = 'running' AND attempts >= :max_attempts
  AND heartbeat_at < now() - make_interval(secs => CAST(:lease_s AS double precision))
