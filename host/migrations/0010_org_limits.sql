-- One org's quotas with one plugin, overriding the plugin's (NULL: the plugin's own).
CREATE TABLE IF NOT EXISTS org_limits (
    org             TEXT NOT NULL,
    plugin          TEXT NOT NULL,
    org_bytes       BIGINT,
    upload_bytes    BIGINT,
    resource_slots  BIGINT,
    resource_bytes  BIGINT,
    PRIMARY KEY (org, plugin)
);
