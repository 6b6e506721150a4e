-- The swap, with writers still paused: nothing can land in the old table any more.
LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE;
ALTER TABLE ledger RENAME TO ledger_old;
ALTER TABLE ledger_new RENAME TO ledger;
ALTER SEQUENCE ledger_id_seq OWNED BY ledger.id;
CREATE TRIGGER ledger_apply_balance AFTER INSERT ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_apply_balance();
GRANT SELECT ON ledger TO ledger_reader;
GRANT INSERT ON ledger TO ledger_writer;
