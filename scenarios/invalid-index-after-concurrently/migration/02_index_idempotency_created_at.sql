-- The second index the cutover needs: UNIQUE (idempotency_key, created_at), so ATTACH can adopt it instead
-- of building it under ACCESS EXCLUSIVE (write-up 003). Same "re-runnable" form, same hazard as 01.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ledger_idempotency_key_created_at_key
  ON ledger (idempotency_key, created_at);
