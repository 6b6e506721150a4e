-- PostgreSQL 12+ proves NOT NULL from the validated CHECK and skips the scan; the CHECK is then redundant.
ALTER TABLE ledger ALTER COLUMN region SET NOT NULL;
ALTER TABLE ledger DROP CONSTRAINT ledger_region_not_null;
