-- Prove the existing rows belong in the history range without scanning now: NOT VALID only checks new
-- rows (write-up 001, "add the constraint as NOT VALID, then validate it ahead of time").
-- The bound lies after the cutover date so that live inserts (created_at = now()) still pass it; rows
-- written between the cutover and the bound land in the history partition.
ALTER TABLE ledger
  ADD CONSTRAINT ledger_history_range
  CHECK (created_at IS NOT NULL AND created_at < '{{month+1}}') NOT VALID;
