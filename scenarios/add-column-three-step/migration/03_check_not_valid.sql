-- Step 3a: enforced for new rows at once, without scanning the existing ones yet (NOT VALID).
ALTER TABLE ledger ADD CONSTRAINT ledger_region_not_null CHECK (region IS NOT NULL) NOT VALID;
