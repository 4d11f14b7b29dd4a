-- PostgreSQL only (SQLite records the version and runs nothing): a batch of statements in one
-- round trip with every value bound (host/src/store/batch.rs). Each statement runs with
-- EXECUTE … USING, which takes a fixed number of values, so the values come as two arrays:
-- the statements name them `$1[i]` (texts) and `$2[i]` (integers). Then the result query's
-- rows are returned, typed by the caller's column definition list. One call is one
-- statement: a failure anywhere rolls the whole batch back. The function is VOLATILE, so
-- each statement takes its own snapshot and sees what the earlier ones wrote, as in a
-- multi-statement query; concurrent batches lock rows exactly as their statements would.
-- A change to the signature or the meaning gets a new name (`_v2`) beside this one, so
-- nodes of the older version keep working while a cluster is upgraded.
CREATE OR REPLACE FUNCTION gateway_batch_v1(
    statements TEXT[],
    result_query TEXT,
    texts TEXT[],
    ints BIGINT[]
) RETURNS SETOF RECORD
LANGUAGE plpgsql VOLATILE AS $batch$
DECLARE
    stmt TEXT;
BEGIN
    FOREACH stmt IN ARRAY statements LOOP
        EXECUTE stmt USING texts, ints;
    END LOOP;
    IF result_query IS NOT NULL THEN
        RETURN QUERY EXECUTE result_query USING texts, ints;
    END IF;
END
$batch$;
