-- Jobs: captures and restores run by the workers of any node. A worker holds a job through a
-- lease (owner + expiry, renewed by heartbeats); an expired lease lets another worker take it.

CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    org         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    source_backup TEXT,
    status      TEXT NOT NULL,
    bytes_done  BIGINT NOT NULL,
    bytes_total BIGINT,
    message     TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    backup_id   TEXT,
    error       TEXT,
    subject     TEXT NOT NULL,
    filename    TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT,
    metadata    TEXT NOT NULL,
    exclusive   BIGINT NOT NULL,
    UNIQUE (org, provider, seq)
);
-- At most one exclusive job per resource is queued or running.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_exclusive ON jobs (org, provider, resource_kind, resource_id)
    WHERE exclusive = 1 AND status IN ('queued', 'in_progress');
CREATE INDEX IF NOT EXISTS jobs_runnable ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_resource ON jobs (org, provider, resource_kind, resource_id, seq);
