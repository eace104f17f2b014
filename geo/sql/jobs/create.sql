-- Durable background jobs (issue 17): one row per job, claimed by any worker with
-- FOR UPDATE SKIP LOCKED (see geo/analysis/jobs.py). payload and result are pickles
-- written only by Wardwise itself. heartbeat_at is renewed by the running worker; a job
-- whose worker stopped beating for the lease is claimed again (attempts counts the runs).
-- Parameters: none. SRIDs: none. Indexes: pk_job, ix_job_queue_status_created.
CREATE TABLE job (
    id varchar(32) PRIMARY KEY,
    queue varchar(32) NOT NULL,
    kind varchar(64) NOT NULL,
    params jsonb NOT NULL DEFAULT '{}'::jsonb,
    payload bytea,
    status varchar(16) NOT NULL DEFAULT 'queued',
    progress double precision NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    worker text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    heartbeat_at timestamptz,
    finished_at timestamptz,
    error text,
    result bytea,
    CONSTRAINT ck_job_status CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled'))
);
CREATE INDEX ix_job_queue_status_created ON job (queue, status, created_at);
