-- Renew the lease of the jobs this worker is running.
-- Parameters: :ids (text[]), :worker. SRIDs: none. Indexes: pk_job.
UPDATE job SET heartbeat_at = now()
WHERE id = ANY(CAST(:ids AS text[])) AND worker = :worker AND status = 'running'
