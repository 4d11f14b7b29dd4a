-- Credentials issued through the admin API (those of the configuration file stay in it):
-- the SHA-256 of the secret only; on rotation the previous secret's digest stays valid
-- until `previous_until`.
CREATE TABLE IF NOT EXISTS credentials (
    id              TEXT PRIMARY KEY,
    org             TEXT NOT NULL,
    plugin          TEXT NOT NULL,
    scheme          TEXT NOT NULL,
    header          TEXT,
    key             TEXT NOT NULL,
    subject         TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    secret_sha256   TEXT NOT NULL,
    previous_sha256 TEXT,
    previous_until  BIGINT,
    expires_at      BIGINT,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX IF NOT EXISTS credentials_org ON credentials (org);
