-- The seeded events span the six months up to now, oldest first by id, so the monthly partitions
-- pg_partman makes always cover them whatever today's date is ({{month-6}} is the start of the UTC month
-- six months ago).
UPDATE event_transactions
SET created_at = '{{month-6}}'::timestamptz
  + (now() - '{{month-6}}'::timestamptz) * ((id - 1)::float8 / (SELECT max(id) FROM event_transactions));

-- One refund for every 50th transaction.
INSERT INTO event_refunds (transaction_id, transaction_created_at, amount)
SELECT id, created_at, -amount FROM event_transactions WHERE id % 50 = 0;

VACUUM ANALYZE event_transactions;
ANALYZE event_refunds;
