-- The ledger as some productions have it: the foreign key to accounts never made it in (the table predates
-- it, or it was dropped for a bulk load). Scenarios that add it start from here: ../_ledger/after_seed.sql,
-- after dropping the constraint first, so the key is checked against the rows the seeding wrote.
ALTER TABLE ledger DROP CONSTRAINT ledger_account_id_fkey;

SELECT setval('ledger_id_seq', (SELECT max(id) FROM ledger));

INSERT INTO ledger_idempotency (key) SELECT idempotency_key FROM ledger;

INSERT INTO account_balances (account_id, balance, updated_at)
SELECT account_id, sum(amount), max(created_at) FROM ledger GROUP BY account_id;

ANALYZE;
