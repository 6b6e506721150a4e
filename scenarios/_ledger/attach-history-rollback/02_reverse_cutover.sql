-- The cutover in reverse, in one short transaction: the history partition becomes the plain ledger again,
-- with the original PK, indexes, triggers, grants, policy and sequence ownership.

LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE;

ALTER TABLE ledger DETACH PARTITION ledger_history;

-- Detaching removed the triggers cloned from the parent; nothing fires while rows are moved back below.
-- The range CHECK would reject rows written to the new partitions since the cutover.
ALTER TABLE ledger_history DROP CONSTRAINT IF EXISTS ledger_history_range;

-- Rows written since the cutover that were routed to the new partitions (their side effects already ran).
INSERT INTO ledger_history (id, account_id, amount, kind, idempotency_key, created_at, memo)
SELECT id, account_id, amount, kind, idempotency_key, created_at, memo FROM ledger;

-- The sequence is owned by the parent now; dropping the parent would drop it with it.
ALTER SEQUENCE ledger_id_seq OWNED BY ledger_history.id;

DROP TABLE ledger;

ALTER TABLE ledger_history RENAME TO ledger;

-- PK back to (id), on the index built concurrently in the previous step.
ALTER TABLE ledger DROP CONSTRAINT ledger_history_pkey;
ALTER TABLE ledger ADD CONSTRAINT ledger_pkey PRIMARY KEY USING INDEX ledger_history_id_key;
ALTER TABLE ledger DROP CONSTRAINT ledger_history_idempotency_key_created_at_key;

ALTER INDEX ledger_history_idempotency_key_key RENAME TO ledger_idempotency_key_key;
ALTER INDEX ledger_history_account_id_created_at_idx RENAME TO ledger_account_id_created_at_idx;
ALTER INDEX ledger_history_debit_created_at_idx RENAME TO ledger_debit_created_at_idx;

CREATE TRIGGER ledger_set_created_at BEFORE INSERT ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_set_created_at();
CREATE TRIGGER ledger_apply_balance AFTER INSERT ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_apply_balance();

-- Grants, RLS and the policy stayed on the history table through the migration; restate them so the
-- rollback does not depend on that.
GRANT SELECT ON ledger TO ledger_reader;
GRANT INSERT ON ledger TO ledger_writer;
ALTER TABLE ledger ENABLE ROW LEVEL SECURITY;
