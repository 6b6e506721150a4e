-- While both versions of the application may write, each row carries both names: whichever one the writer
-- left empty is filled from the other. Runs before the copy, so no row written meanwhile is missed.
CREATE FUNCTION ledger_memo_note_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.note IS NULL THEN
    NEW.note := NEW.memo;
  ELSIF NEW.memo IS NULL THEN
    NEW.memo := NEW.note;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER ledger_memo_note_sync BEFORE INSERT OR UPDATE ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_memo_note_sync();
