-- Catalog only (a nullable column, no default): holding ACCESS EXCLUSIVE takes milliseconds. Getting it does
-- not: it waits for every transaction that has ledger open, here a 5 s reporting query.
ALTER TABLE ledger ADD COLUMN reviewed_at timestamptz;
