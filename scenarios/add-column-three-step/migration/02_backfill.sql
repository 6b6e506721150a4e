-- Step 2: batches by primary key, each committed on its own: only row locks, briefly, and the writers go
-- on. Rows written since step 1 already have the DEFAULT.
DO $$
DECLARE
  lo bigint;
  hi bigint;
BEGIN
  SELECT min(id), max(id) INTO lo, hi FROM ledger;
  WHILE lo <= hi LOOP
    UPDATE ledger SET region = 'eu-' || (random() * 3)::int
     WHERE id >= lo AND id < lo + 10000 AND region IS NULL;
    COMMIT;
    lo := lo + 10000;
  END LOOP;
END
$$;
