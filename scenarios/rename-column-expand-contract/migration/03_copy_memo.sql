-- The rows written before the trigger: copied under row locks only (ROW EXCLUSIVE: writes continue). At
-- production size this is a batched backfill; 10,000 rows are one batch.
UPDATE ledger SET note = memo WHERE note IS NULL AND memo IS NOT NULL;
