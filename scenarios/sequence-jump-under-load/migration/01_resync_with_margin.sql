-- The "safe" sync many runbooks write after a copy or a restore: max(id) plus a margin for ids that
-- transactions in flight may hold. It never moves the sequence back (sequence-rewind-under-load's bug),
-- but every id in the margin is skipped for good.
SELECT setval('ledger_id_seq', (SELECT max(id) FROM ledger) + 1000);
