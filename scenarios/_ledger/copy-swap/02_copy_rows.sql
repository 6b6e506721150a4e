-- One snapshot of ledger: rows committed after it starts are not copied, and nothing copies them later.
INSERT INTO ledger_new SELECT * FROM ledger;
