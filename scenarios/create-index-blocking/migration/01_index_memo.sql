-- The hazard: SHARE on ledger for the whole build. Reads go on; every write waits until the index is done.
CREATE INDEX ledger_memo_idx ON ledger (memo);
