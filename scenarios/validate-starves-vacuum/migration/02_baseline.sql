-- The control: the same write load for ~8 s with no long transaction open (each statement is its own
-- short transaction, so the xmin horizon moves on every 0.5 s). Autovacuum (naptime 1 s, threshold 50, no
-- scale factor) and page pruning remove the balance rows' old versions as fast as the load makes them.
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
SELECT pg_sleep(0.5);
