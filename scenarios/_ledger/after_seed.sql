-- Rows were loaded with user triggers off (session_replication_role = replica), so bring the side tables
-- and the sequence to where production would have them.
SELECT setval('ledger_id_seq', (SELECT max(id) FROM ledger));

INSERT INTO ledger_idempotency (key) SELECT idempotency_key FROM ledger;

INSERT INTO account_balances (account_id, balance, updated_at)
SELECT account_id, sum(amount), max(created_at) FROM ledger GROUP BY account_id;

ANALYZE;
