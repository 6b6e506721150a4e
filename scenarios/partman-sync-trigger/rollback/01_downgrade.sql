-- Write-up 004's downgrade, with the writers paused: the old table becomes event_transactions again and the
-- partitioned one event_transactions_partitioned, kept in sync by the trigger as before the cutover. The
-- rows written since the cutover exist only in the partitioned table: carry them back first.
INSERT INTO event_transactions_old
  (id, user_id, event_code, amount, currency, idempotency_key, session_id, created_at)
SELECT n.id, n.user_id, n.event_code, n.amount, n.currency, n.idempotency_key, n.session_id, n.created_at
FROM event_transactions n
WHERE n.id > (SELECT max(id) FROM event_transactions_old);

DO $$
DECLARE
  old_rows bigint;
  new_rows bigint;
BEGIN
  SELECT count(*) INTO old_rows FROM event_transactions_old;
  SELECT count(*) INTO new_rows FROM event_transactions;
  IF old_rows <> new_rows THEN
    RAISE EXCEPTION 'count check failed: event_transactions_old has % rows, event_transactions has %',
      old_rows, new_rows;
  END IF;
END
$$;

LOCK TABLE event_transactions, event_transactions_old IN ACCESS EXCLUSIVE MODE;
ALTER TABLE event_transactions RENAME TO event_transactions_partitioned;
ALTER TABLE event_transactions_old RENAME TO event_transactions;
ALTER SEQUENCE event_transactions_id_seq OWNED BY event_transactions.id;
UPDATE partman.part_config
SET parent_table = 'public.event_transactions_partitioned'
WHERE parent_table = 'public.event_transactions';

-- The refunds reference the plain table by id again (validated once writers run).
ALTER TABLE event_refunds DROP CONSTRAINT event_refunds_transaction_id_fkey;
ALTER TABLE event_refunds ADD CONSTRAINT event_refunds_transaction_id_fkey
  FOREIGN KEY (transaction_id) REFERENCES event_transactions (id) ON DELETE CASCADE NOT VALID;

-- "helper.create_sync_trigger()": back to the state before the cutover, ready to cut over again.
CREATE TRIGGER sync_event_transactions_trigger
  AFTER INSERT OR UPDATE OR DELETE ON event_transactions
  FOR EACH ROW EXECUTE FUNCTION sync_event_transactions_to_partitioned();
