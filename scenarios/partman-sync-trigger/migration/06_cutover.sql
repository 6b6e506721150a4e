-- Write-up 004, "Postcutover", with the writers paused and their in-flight writes finished: the count
-- check, then the swap, the sequence fix, pg_partman's config and the foreign keys, in one transaction.

-- "it checks if the record counts matches": a difference fails the step (and rolls all of it back).
DO $$
DECLARE
  old_rows bigint;
  new_rows bigint;
BEGIN
  SELECT count(*) INTO old_rows FROM event_transactions;
  SELECT count(*) INTO new_rows FROM event_transactions_partitioned;
  IF old_rows <> new_rows THEN
    RAISE EXCEPTION 'count check failed: event_transactions has % rows, event_transactions_partitioned has %',
      old_rows, new_rows;
  END IF;
END
$$;

-- "Update sequences": the next id is above every id in either table.
SELECT setval('event_transactions_id_seq',
  greatest((SELECT max(id) FROM event_transactions), (SELECT max(id) FROM event_transactions_partitioned)));

LOCK TABLE event_transactions, event_transactions_partitioned IN ACCESS EXCLUSIVE MODE;
DROP TRIGGER sync_event_transactions_trigger ON event_transactions;
ALTER TABLE event_transactions RENAME TO event_transactions_old;
ALTER TABLE event_transactions_partitioned RENAME TO event_transactions;
-- The sequence must outlive the old table when it is dropped one day.
ALTER SEQUENCE event_transactions_id_seq OWNED BY event_transactions.id;

-- "Update pg_partman configuration": maintenance keeps making partitions for the renamed parent.
UPDATE partman.part_config
SET parent_table = 'public.event_transactions'
WHERE parent_table = 'public.event_transactions_partitioned';

-- "recreate_foreign_keys": the refunds' FK followed the old table's OID through the rename. Point it at
-- the partitioned table, through its (id, created_at) key; NOT VALID here, validated once writers run.
ALTER TABLE event_refunds DROP CONSTRAINT event_refunds_transaction_id_fkey;
ALTER TABLE event_refunds ADD CONSTRAINT event_refunds_transaction_id_fkey
  FOREIGN KEY (transaction_id, transaction_created_at) REFERENCES event_transactions (id, created_at)
  ON DELETE CASCADE NOT VALID;
