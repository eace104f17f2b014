-- Store a new queued job.
-- Parameters: :id, :queue, :kind, :params (JSON text), :payload (bytea). SRIDs: none. Indexes: pk_job.
INSERT INTO job (id, queue, kind, params, payload)
VALUES (:id, :queue, :kind, CAST(:params AS jsonb), :payload)
