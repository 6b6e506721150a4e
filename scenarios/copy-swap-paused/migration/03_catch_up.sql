-- Writers are paused and their in-flight writes have finished: carry over every row the copy's snapshot
-- missed (ids are not committed in order, so compare by key, not by "id > max"), then prove the counts match.
INSERT INTO ledger_new
SELECT l.* FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM ledger_new n WHERE n.id = l.id);

DO $$
DECLARE
  old_rows bigint;
  new_rows bigint;
BEGIN
  SELECT count(*) INTO old_rows FROM ledger;
  SELECT count(*) INTO new_rows FROM ledger_new;
  IF old_rows <> new_rows THEN
    RAISE EXCEPTION 'count check failed: ledger has % rows, ledger_new has %', old_rows, new_rows;
  END IF;
END
$$;
