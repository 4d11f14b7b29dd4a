-- The control plane's state, changed at runtime through the admin API and seen by every node.

-- Organisations (tenants). Orgs of the configuration file are written here at start-up.
CREATE TABLE IF NOT EXISTS orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    suspended   BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Admin API tokens: the SHA-256 of the token only, its scopes (JSON array) and expiry.
CREATE TABLE IF NOT EXISTS admin_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,
    expires_at  BIGINT,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- Every admin mutation and every client delete of a backup, in the database's time. Rows
-- are only ever inserted; nothing updates or deletes them.
CREATE TABLE IF NOT EXISTS audit_log (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    org         TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at, id);
CREATE INDEX IF NOT EXISTS audit_log_org ON audit_log (org, at);

-- One counter bumped in the transaction of every control-plane change; nodes poll it and
-- reload their caches when it moved.
CREATE TABLE IF NOT EXISTS control_version (
    id          BIGINT PRIMARY KEY,
    version     BIGINT NOT NULL
);
INSERT INTO control_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING;
