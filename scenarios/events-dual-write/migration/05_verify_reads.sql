-- "Flip reads to the partitioned table. Watch p99 on both tables": before reads move, the new table must
-- answer the feed's query exactly as the legacy one does, for every account written to lately.
DO $$
DECLARE
  legacy bigint;
  partitioned bigint;
BEGIN
  -- One statement, one snapshot: the load keeps dual-writing while this runs.
  SELECT (SELECT count(*) FROM events WHERE occurred_at > now() - interval '1 hour'),
         (SELECT count(*) FROM events_partitioned WHERE occurred_at > now() - interval '1 hour')
    INTO legacy, partitioned;
  IF legacy <> partitioned THEN
    RAISE EXCEPTION 'reads would change: % recent events in events, % in events_partitioned', legacy, partitioned;
  END IF;
  SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events_partitioned) INTO legacy, partitioned;
  IF legacy <> partitioned THEN
    RAISE EXCEPTION 'backfill incomplete: % rows in events, % in events_partitioned', legacy, partitioned;
  END IF;
END $$;
