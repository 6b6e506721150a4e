-- Write-up 000, as written: "double-checked nextval would not collide". Under load it rewinds the sequence.
SELECT setval(
  'events_id_seq',
  GREATEST(
    (SELECT coalesce(max(id), 0) FROM events),
    (SELECT coalesce(max(id), 0) FROM events_partitioned)
  )
);
