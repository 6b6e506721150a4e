-- The unavoidable full scan, done ahead of the cutover under SHARE UPDATE EXCLUSIVE: reads and writes go
-- on, but (auto)vacuum cannot run on the table while it lasts — 9 hours in production (write-up 001).
ALTER TABLE ledger VALIDATE CONSTRAINT ledger_history_range;
