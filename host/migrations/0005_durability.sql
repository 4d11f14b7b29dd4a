-- Group commit on PostgreSQL: transactions commit asynchronously, and a barrier makes all
-- earlier commits durable by committing one write here synchronously (see
-- host/src/store/durability.rs). A few rows, so nodes rarely queue on one row lock.
CREATE TABLE IF NOT EXISTS sync_marks (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
