-- Write-up 004, "migrate_<table>_batch": copies the rows that existed before the sync trigger, in id order,
-- committing every p_batch_size rows and recording each batch in partition_migration_status, so it can be
-- stopped and resumed (pg_cron ran it every minute; here it runs to the end in one CALL). Rows above the
-- highest id seen at the start were written with the trigger in place; it carries them.
CREATE PROCEDURE migrate_event_transactions_batch(p_batch_size integer DEFAULT 10000)
LANGUAGE plpgsql AS $$
DECLARE
  done_up_to bigint;
  stop_at bigint;
  batch_end bigint;
  moved integer;
  began timestamptz;
BEGIN
  SELECT coalesce(max(last_id), 0) INTO done_up_to
  FROM partition_migration_status
  WHERE table_name = 'event_transactions' AND completed_at IS NOT NULL;
  SELECT coalesce(max(id), 0) INTO stop_at FROM event_transactions;
  WHILE done_up_to < stop_at LOOP
    began := clock_timestamp();
    SELECT max(id) INTO batch_end
    FROM (SELECT id FROM event_transactions WHERE id > done_up_to ORDER BY id LIMIT p_batch_size) b;
    EXIT WHEN batch_end IS NULL;
    INSERT INTO event_transactions_partitioned
      (id, user_id, event_code, amount, currency, idempotency_key, session_id, created_at)
    SELECT id, user_id, event_code, amount, currency, idempotency_key, session_id, created_at
    FROM event_transactions
    WHERE id > done_up_to AND id <= batch_end
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS moved = ROW_COUNT;
    INSERT INTO partition_migration_status
      (table_name, first_id, last_id, rows_migrated, started_at, completed_at)
    VALUES ('event_transactions', done_up_to + 1, batch_end, moved, began, clock_timestamp());
    done_up_to := batch_end;
    COMMIT;
  END LOOP;
END
$$;
