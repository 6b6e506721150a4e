-- Write-up 000: "attached the same sequence to the new table and double-checked nextval would not collide".
-- Each statement commits alone (transaction: false): the ALTER holds ACCESS EXCLUSIVE on the partitioned
-- table, and held across the setval it deadlocked with the load's dual-write (caught by a rehearsal: 40P01
-- and a 1 s write stall). Nothing else needs to change: the sequence stays owned by the legacy column.
ALTER TABLE events_partitioned ALTER COLUMN id SET DEFAULT nextval('events_id_seq');
SELECT setval(
  'events_id_seq',
  GREATEST(
    (SELECT coalesce(max(id), 0) FROM events),
    (SELECT coalesce(max(id), 0) FROM events_partitioned)
  )
);
