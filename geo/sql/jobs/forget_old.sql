-- Keep the newest :keep finished jobs of a queue; forget older finished ones.
-- Parameters: :queue, :keep. SRIDs: none. Indexes: ix_job_queue_status_created.
DELETE FROM job
WHERE id IN (
    SELECT id FROM job
    WHERE queue = :queue AND status IN ('done', 'failed', 'cancelled')
    ORDER BY created_at DESC
    OFFSET :keep
)
