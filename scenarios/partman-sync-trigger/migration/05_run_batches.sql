-- The batch migration, run to the end while the load writes (the sync trigger carries those writes).
CALL migrate_event_transactions_batch(10000);
ANALYZE event_transactions_partitioned;
