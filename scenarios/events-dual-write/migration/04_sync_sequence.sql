-- Write-up 000: "attached the same sequence to the new table and double-checked nextval would not collide".
-- Each statement commits alone (transaction: false): the ALTER holds ACCESS EXCLUSIVE on the partitioned
-- table, and held across the setval it deadlocked with the load's dual-write (caught by a rehearsal: 40P01
-- and a 1 s write stall). Nothing else needs to change: the sequence stays owned by the legacy column.
ALTER TABLE events_partitioned ALTER COLUMN id SET DEFAULT nextval('events_id_seq');
-- The write-up's setval(GREATEST(max old, max new)) moves the sequence BACKWARDS while writes go on: ids
-- already handed to transactions that had not committed when max() was read are handed out again (caught
-- by a rehearsal: 23505 on events_pkey in this step, one run in three at 200 writes/s; at 50K writes/s
-- hundreds of ids are in flight at any moment; sequence-rewind-under-load shows it every run). The shared
-- sequence has handed out every id either table holds, so normally nothing is set at all; the setval runs
-- only when the sequence is behind (ids written explicitly), and then only moves it forward.
SELECT setval('events_id_seq', t.target)
FROM (
  SELECT GREATEST(
    (SELECT coalesce(max(id), 0) FROM events),
    (SELECT coalesce(max(id), 0) FROM events_partitioned)
  ) AS target
) t,
(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS handed_out FROM events_id_seq) s
WHERE t.target > s.handed_out;
