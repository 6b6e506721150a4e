-- Catalog only: a nullable column and a constant DEFAULT for rows written from now on; no existing row is
-- touched (write-up 000, step 1).
ALTER TABLE ledger ADD COLUMN region text;
ALTER TABLE ledger ALTER COLUMN region SET DEFAULT 'eu-0';
