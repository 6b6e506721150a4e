-- SHARE UPDATE EXCLUSIVE only: writes go on while the table is scanned (twice) and the index validated.
CREATE INDEX CONCURRENTLY ledger_memo_idx ON ledger (memo);
