-- Jobs of a queue still waiting or running.
-- Parameters: :queue. SRIDs: none. Indexes: ix_job_queue_status_created.
SELECT count(*) FROM job WHERE queue = :queue AND status IN ('queued', 'running')
