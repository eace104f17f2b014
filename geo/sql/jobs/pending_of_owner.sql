-- Jobs of a queue one owner queued that are still waiting or running, not counting running
-- ones already asked to cancel (they stop at their next progress report): the per-owner quota.
-- Parameters: :queue, :owner. SRIDs: none. Indexes: ix_job_queue_owner_status.
SELECT count(*) FROM job
WHERE queue = :queue AND owner = :owner AND status IN ('queued', 'running') AND NOT cancel_requested
