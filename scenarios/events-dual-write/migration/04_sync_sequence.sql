-- Write-up 000: "attached the same sequence to the new table and double-checked nextval would not collide".
-- Each statement commits alone (transaction: false): the ALTER holds ACCESS EXCLUSIVE on the partitioned
-- table, and held across the setval it deadlocked with the load's dual-write (caught by a rehearsal: 40P01
-- and a 1 s write stall). Nothing else needs to change: the sequence stays owned by the legacy column.
ALTER TABLE events_partitioned ALTER COLUMN id SET DEFAULT nextval('events_id_seq');
-- The write-up's setval(GREATEST(max old, max new)) moves the sequence BACKWARDS while writes go on: ids
-- already handed to transactions that had not committed when max() was read are handed out again (caught
-- by a rehearsal: 23505 on events_pkey in this step, one run in three at 200 writes/s; at 50K writes/s
-- hundreds of ids are in flight at any moment). The shared sequence is normally ahead already, so the
-- setval only ever moves it forward: nextval() is the sequence's own atomic reading of where it is.
SELECT setval('events_id_seq', t.target)
FROM (
  SELECT GREATEST(
    (SELECT coalesce(max(id), 0) FROM events),
    (SELECT coalesce(max(id), 0) FROM events_partitioned)
  ) AS target
) t
WHERE t.target >= nextval('events_id_seq');
