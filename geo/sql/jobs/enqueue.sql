-- Store a new queued job.
-- Parameters: :id, :queue, :kind, :params (JSON text), :payload (bytea), :owner (text or null).
-- SRIDs: none. Indexes: pk_job.
INSERT INTO job (id, queue, kind, params, payload, owner)
VALUES (:id, :queue, :kind, CAST(:params AS jsonb), :payload, :owner)
