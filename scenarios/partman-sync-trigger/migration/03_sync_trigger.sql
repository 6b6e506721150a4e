-- Write-up 004, "Establishes sync trigger": every write to the old table from now on is repeated on the
-- partitioned copy, so the batch copy only has to carry the rows that existed before this commits.
-- CREATE TRIGGER waits for in-flight inserts (SHARE ROW EXCLUSIVE): none can slip between the two.
CREATE FUNCTION sync_event_transactions_to_partitioned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO event_transactions_partitioned
      (id, user_id, event_code, amount, currency, idempotency_key, session_id, created_at)
    VALUES
      (NEW.id, NEW.user_id, NEW.event_code, NEW.amount, NEW.currency, NEW.idempotency_key, NEW.session_id,
       NEW.created_at)
    ON CONFLICT DO NOTHING;
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    UPDATE event_transactions_partitioned
    SET user_id = NEW.user_id, event_code = NEW.event_code, amount = NEW.amount, currency = NEW.currency,
        idempotency_key = NEW.idempotency_key, session_id = NEW.session_id, created_at = NEW.created_at
    WHERE id = OLD.id;
    RETURN NEW;
  ELSE
    DELETE FROM event_transactions_partitioned WHERE id = OLD.id;
    RETURN OLD;
  END IF;
END
$$;
CREATE TRIGGER sync_event_transactions_trigger
  AFTER INSERT OR UPDATE OR DELETE ON event_transactions
  FOR EACH ROW EXECUTE FUNCTION sync_event_transactions_to_partitioned();
