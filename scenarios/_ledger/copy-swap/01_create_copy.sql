-- The partitioned copy (write-up 004): same columns and defaults (ids from the same sequence), keys that
-- include the partition key, monthly partitions plus one for all history.
CREATE TABLE ledger_new (LIKE ledger INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at);
ALTER TABLE ledger_new ADD PRIMARY KEY (id, created_at);
ALTER TABLE ledger_new ADD UNIQUE (idempotency_key, created_at);
CREATE INDEX ON ledger_new (account_id, created_at DESC);
CREATE TABLE ledger_new_history PARTITION OF ledger_new FOR VALUES FROM (MINVALUE) TO ('{{month+1}}');
CREATE TABLE ledger_new_2026_12 PARTITION OF ledger_new
  FOR VALUES FROM ('{{month+1}}') TO ('{{month+2}}');
CREATE TABLE ledger_new_2027_01 PARTITION OF ledger_new
  FOR VALUES FROM ('{{month+2}}') TO ('{{month+3}}');
