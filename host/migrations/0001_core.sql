-- Core schema, identical on SQLite and PostgreSQL: only TEXT and BIGINT columns, so one file
-- serves both engines through sqlx's Any driver. Times are microseconds since the epoch.

CREATE TABLE IF NOT EXISTS resources (
    org         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    state       TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    source      TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org, provider, kind, id)
);

-- Committed bytes and in-flight reservations per org and provider.
CREATE TABLE IF NOT EXISTS quota_usage (
    org         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    used_bytes  BIGINT NOT NULL DEFAULT 0,
    reserved_bytes BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org, provider)
);

-- An upload or capture in flight: its reservation and temporary object, reclaimed when the
-- writer dies (lease expired) so no quota stays charged and no temporary object stays behind.
CREATE TABLE IF NOT EXISTS ingests (
    id          TEXT PRIMARY KEY,
    org         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    reserved_bytes BIGINT NOT NULL,
    temp_key    TEXT NOT NULL,
    lease_expires_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS backups (
    id          TEXT PRIMARY KEY,
    org         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    filename    TEXT NOT NULL,
    extension   TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    stored_bytes BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    subject     TEXT NOT NULL,
    job_id      TEXT,
    metadata    TEXT NOT NULL,
    UNIQUE (org, provider, seq)
);
CREATE INDEX IF NOT EXISTS backups_by_resource
    ON backups (org, provider, resource_kind, resource_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS backups_by_job ON backups (job_id);

CREATE TABLE IF NOT EXISTS sequences (
    org         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       BIGINT NOT NULL,
    PRIMARY KEY (org, provider, name)
);

CREATE TABLE IF NOT EXISTS documents (
    org         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    collection  TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    PRIMARY KEY (org, provider, collection, key)
);

-- Fixed rate-limit windows, shared by every node on the same database.
CREATE TABLE IF NOT EXISTS rate_windows (
    key         TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
