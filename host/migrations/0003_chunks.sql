-- Deduplicated captures: a backup's content as an ordered list of SHA-256-addressed chunks.
-- A chunk's bytes live once per org and provider, inside the pack object of the backup that
-- first stored them; `refs` counts the backup_chunks rows pointing at it. The last reference
-- going frees the chunk (and its bytes from the quota); a pack object is deleted when it no
-- longer holds a live chunk.

ALTER TABLE backups ADD COLUMN chunked BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN deduplicate BIGINT NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS chunks (
    org         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    hash        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    pack_key    TEXT NOT NULL,
    pack_offset BIGINT NOT NULL,
    refs        BIGINT NOT NULL,
    PRIMARY KEY (org, provider, hash)
);

CREATE TABLE IF NOT EXISTS packs (
    pack_key    TEXT PRIMARY KEY,
    org         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    live_chunks BIGINT NOT NULL
);

-- Position `idx` of a chunked backup's content is chunk `hash` (of `size` bytes).
CREATE TABLE IF NOT EXISTS backup_chunks (
    backup_id   TEXT NOT NULL,
    idx         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    PRIMARY KEY (backup_id, idx)
);
CREATE INDEX IF NOT EXISTS backup_chunks_by_hash ON backup_chunks (backup_id, hash);
