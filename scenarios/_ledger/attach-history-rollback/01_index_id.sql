-- The original PK on (id) was dropped at the cutover. Rebuild its index on the history partition without
-- blocking writes, so the reverse cutover can restore the PK as a catalog change. A failed earlier attempt
-- leaves an INVALID index behind; drop it first so the rollback can be retried.
DROP INDEX CONCURRENTLY IF EXISTS ledger_history_id_key;
CREATE UNIQUE INDEX CONCURRENTLY ledger_history_id_key ON ledger_history (id);
