-- The monthly partition job, run before the rollover: next month's partition, from the same template
-- (its own UNIQUE (idempotency_key)). CREATE TABLE … PARTITION OF an empty range is a catalog change.
CREATE TABLE ledger_next PARTITION OF ledger FOR VALUES FROM ('{{month+1}}') TO ('{{month+2}}');
CREATE UNIQUE INDEX ledger_next_idempotency_key_uniq ON ledger_next (idempotency_key);
