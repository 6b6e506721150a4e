-- The one full scan, under SHARE UPDATE EXCLUSIVE: reads and writes continue.
ALTER TABLE ledger VALIDATE CONSTRAINT ledger_region_not_null;
