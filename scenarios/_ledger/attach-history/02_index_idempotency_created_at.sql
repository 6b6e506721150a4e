-- Same for the idempotency key: the parent's UNIQUE becomes (idempotency_key, created_at), and without a
-- matching index on the history table ATTACH would build one under ACCESS EXCLUSIVE (write-up 003).
CREATE UNIQUE INDEX CONCURRENTLY ledger_idempotency_key_created_at_key ON ledger (idempotency_key, created_at);
