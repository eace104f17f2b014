-- Serialise enqueues of one queue (transaction-scoped advisory lock), so the pending count
-- checked before an insert cannot be overtaken by a concurrent enqueue.
-- Parameters: :queue. SRIDs: none. Indexes: none.
SELECT pg_advisory_xact_lock(hashtext('wardwise_jobs:' || CAST(:queue AS text)))
