-- The ledger-attach-history cutover with one index added to the new parent that the history table does not
-- have (write-up 003, "Handling indexes when attaching a partition"). Every other statement is the same
-- catalog-only change as in ledger-attach-history.

-- Take the strongest lock first, once, so no statement below queues behind traffic half-way through.
LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE;

-- Relabel, don't move: the existing table becomes the history partition.
ALTER TABLE ledger RENAME TO ledger_history;

-- Free the index names for the parent (index names are per schema, not per table).
ALTER INDEX ledger_idempotency_key_key RENAME TO ledger_history_idempotency_key_key;
ALTER INDEX ledger_account_id_created_at_idx RENAME TO ledger_history_account_id_created_at_idx;
ALTER INDEX ledger_debit_created_at_idx RENAME TO ledger_history_debit_created_at_idx;

-- Swap the history PK from (id) to the prebuilt (id, created_at): both columns are already NOT NULL, so
-- USING INDEX neither scans nor builds anything.
ALTER TABLE ledger_history DROP CONSTRAINT ledger_pkey;
ALTER TABLE ledger_history
  ADD CONSTRAINT ledger_history_pkey PRIMARY KEY USING INDEX ledger_id_created_at_key;
ALTER TABLE ledger_history
  ADD CONSTRAINT ledger_history_idempotency_key_created_at_key
  UNIQUE USING INDEX ledger_idempotency_key_created_at_key;

-- ATTACH clones the parent's row triggers onto the history table, and fails (42710) when one of the same
-- name is already there: the parent's copies take over from these.
DROP TRIGGER ledger_set_created_at ON ledger_history;
DROP TRIGGER ledger_apply_balance ON ledger_history;

-- The new parent, same columns and defaults. created_at is the partition key, so it must be known before
-- routing: the column default and ledger_insert() set it up front (write-up 001).
CREATE TABLE ledger (
  id              bigint NOT NULL DEFAULT nextval('ledger_id_seq'),
  account_id      bigint NOT NULL,
  amount          numeric(18,2) NOT NULL,
  kind            text NOT NULL,
  idempotency_key uuid NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  memo            text,
  -- PK and UNIQUE must include the partition key; global uniqueness of idempotency_key is enforced by
  -- ledger_idempotency through ledger_insert(), not by this constraint (write-up 001).
  CONSTRAINT ledger_pkey PRIMARY KEY (id, created_at),
  CONSTRAINT ledger_idempotency_key_key UNIQUE (idempotency_key, created_at),
  -- Same name and expression as on the history table, so ATTACH merges it instead of adding and checking it.
  CONSTRAINT ledger_kind_check CHECK (kind IN ('credit', 'debit')),
  -- Matches the history table's FK, so ATTACH adopts it without re-validating 21 TB against accounts.
  CONSTRAINT ledger_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id)
) PARTITION BY RANGE (created_at);

-- Reuse the sequence: ids continue where the history table stopped, no gap, no collision (write-up 001).
ALTER SEQUENCE ledger_id_seq OWNED BY ledger.id;

-- Indexes on the parent while it has no partitions: instant. Definitions match the history table's, so
-- ATTACH attaches those instead of building new ones.
CREATE INDEX ledger_account_id_created_at_idx ON ledger (account_id, created_at DESC);
CREATE INDEX ledger_debit_created_at_idx ON ledger (created_at) WHERE kind = 'debit';
-- HAZARD (write-up 003): a new index for the archiver's month-range scans, declared on the parent only
-- ("ATTACH will take care of the partitions"). The future partitions get it as they are created, empty; the
-- history table has no index matching it, so ATTACH below builds one on all of it.
CREATE INDEX ledger_created_at_idx ON ledger (created_at);

-- Move the triggers to the new parent: same names, functions, timing and events (write-up 001).
CREATE TRIGGER ledger_set_created_at BEFORE INSERT ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_set_created_at();
CREATE TRIGGER ledger_apply_balance AFTER INSERT ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_apply_balance();

GRANT SELECT ON ledger TO ledger_reader;
GRANT INSERT ON ledger TO ledger_writer;

-- Policies apply to the table a query names: the parent needs its own, and so does each partition in
-- case someone queries it directly (write-up 003). The history table keeps the one it had.
ALTER TABLE ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_access ON ledger AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);

-- Future partitions, created empty (nothing to scan). The history range ends at the validated bound.
CREATE TABLE ledger_2026_12 PARTITION OF ledger
  FOR VALUES FROM ('{{month+1}}') TO ('{{month+2}}');
CREATE TABLE ledger_2027_01 PARTITION OF ledger
  FOR VALUES FROM ('{{month+2}}') TO ('{{month+3}}');
CREATE TABLE ledger_2027_02 PARTITION OF ledger
  FOR VALUES FROM ('{{month+3}}') TO ('{{month+4}}');
ALTER TABLE ledger_2026_12 ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_2027_01 ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_2027_02 ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_access ON ledger_2026_12 AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
CREATE POLICY ledger_access ON ledger_2027_01 AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
CREATE POLICY ledger_access ON ledger_2027_02 AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
-- Privileges are per relation: a role reading a partition directly needs its own GRANT.
GRANT SELECT ON ledger_2026_12, ledger_2027_01, ledger_2027_02 TO ledger_reader;
GRANT INSERT ON ledger_2026_12, ledger_2027_01, ledger_2027_02 TO ledger_writer;

-- Attach the history. The validated ledger_history_range CHECK implies the partition constraint, so
-- PostgreSQL skips the verification scan; the matching indexes, the FK and the kind CHECK are adopted.
-- HAZARD (write-up 003): ledger_created_at_idx has no match on ledger_history, so ATTACH builds
-- ledger_history_created_at_idx here — reading every history row — under the ACCESS EXCLUSIVE lock taken at
-- the top: on the 21 TB ledger an index build of hours with every read and write of the ledger queued.
-- Adopting the FK drops the history table's own RI triggers on accounts, which takes ACCESS EXCLUSIVE on
-- accounts until COMMIT.
ALTER TABLE ledger ATTACH PARTITION ledger_history
  FOR VALUES FROM (MINVALUE) TO ('{{month+1}}');
