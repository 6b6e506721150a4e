-- The rollback plan "that actually held": the legacy table takes writes again, with ids from its own
-- sequence, past every id the partitioned table handed out while it was the only one written.
SELECT setval(
  'events_id_seq',
  GREATEST(
    (SELECT coalesce(max(id), 0) FROM events),
    (SELECT coalesce(max(id), 0) FROM events_partitioned)
  )
);
