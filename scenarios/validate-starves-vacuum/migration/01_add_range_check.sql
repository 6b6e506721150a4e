-- Stand-in for the 21 TB scan (write-up 001: "The scan took just over nine hours"). The clone has 100k rows,
-- which VALIDATE reads in milliseconds; this function makes reading the seeded history slow instead: it
-- sleeps 20 ms on every 100th history row (a 20 s scan at 100k rows, ten times that at --scale 10) and is
-- true for every row. New rows (created_at in the current month) cost nothing, so the writes the NOT VALID
-- CHECK below checks from now on are not slowed. Declared IMMUTABLE only so a CHECK may call it.
CREATE FUNCTION ledger_history_scan_cost(p_id bigint, p_created_at timestamptz) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_created_at < '{{month}}' AND p_id % 100 = 0 THEN
    PERFORM pg_sleep(0.02);
  END IF;
  RETURN true;
END
$$;

-- The history-range CHECK of ledger-attach-history (its bound after the cutover date so live inserts pass
-- it), plus the stand-in's cost. NOT VALID: no scan now, new rows are checked from here on.
ALTER TABLE ledger
  ADD CONSTRAINT ledger_history_range
  CHECK (created_at IS NOT NULL AND created_at < '{{month+1}}' AND ledger_history_scan_cost(id, created_at))
  NOT VALID;
