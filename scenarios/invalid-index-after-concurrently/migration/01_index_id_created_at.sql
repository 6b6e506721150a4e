-- The first of the two indexes the partitioned cutover needs (write-up 001): built without blocking writes.
-- Written the way migration tools make a step "safe to re-run": IF NOT EXISTS.
-- HAZARD: IF NOT EXISTS looks at the name only. When the first attempt is cancelled (here by lock_timeout
-- while CONCURRENTLY waits for the writers' open transactions), the index it had already registered stays
-- behind, INVALID; the retry sees the name, prints a NOTICE and succeeds without building anything.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ledger_id_created_at_key ON ledger (id, created_at);
