-- Contract, once the application names note only: the trigger and the old column go. DROP COLUMN is catalog
-- only (the values stay on disk until rows are rewritten); ACCESS EXCLUSIVE for milliseconds.
DROP TRIGGER ledger_memo_note_sync ON ledger;
DROP FUNCTION ledger_memo_note_sync();
ALTER TABLE ledger DROP COLUMN memo;
