-- The outage: the DEFAULT is volatile, so every existing row gets its own value written now, by rewriting
-- the whole table (and rebuilding every index) while ACCESS EXCLUSIVE blocks all reads and writes.
ALTER TABLE ledger ADD COLUMN region text NOT NULL DEFAULT ('eu-' || (random() * 3)::int);
