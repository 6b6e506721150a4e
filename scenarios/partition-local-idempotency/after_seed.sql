SELECT setval('ledger_id_seq', (SELECT max(id) FROM ledger));
ANALYZE;
