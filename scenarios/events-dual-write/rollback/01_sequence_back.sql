-- The rollback plan "that actually held": the legacy table takes writes again, with ids from its own
-- sequence, past every id the partitioned table handed out while it was the only one written. Forward only
-- (see migration/04_sync_sequence.sql): writes are running, and a setval below an id in flight reissues it.
SELECT setval('events_id_seq', t.target)
FROM (
  SELECT GREATEST(
    (SELECT coalesce(max(id), 0) FROM events),
    (SELECT coalesce(max(id), 0) FROM events_partitioned)
  ) AS target
) t,
(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS handed_out FROM events_id_seq) s
WHERE t.target > s.handed_out;
