-- A client upload records who sends it (captures leave it NULL), so that a reservation can
-- refuse an upload beyond the caps on uploads in flight per credential and per org
-- (`server.max_uploads_per_credential`, `server.max_uploads_per_org`).
ALTER TABLE ingests ADD COLUMN subject TEXT;
CREATE INDEX IF NOT EXISTS ingests_org_subject ON ingests (org, subject);
