-- Group commit on PostgreSQL: transactions commit asynchronously, and a barrier makes all
-- earlier commits durable by committing one write here synchronously (see
-- host/src/store/durability.rs). A few rows, so nodes rarely queue on one row lock.
CREATE TABLE IF NOT EXISTS sync_marks (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
-- An in-flight ingest records the key its object is published under, so that a single node
-- starting up can remove an object whose backup's commit was lost with the power.
ALTER TABLE ingests ADD COLUMN object_key TEXT;
