-- Catalog only: new writes are checked from now on, existing rows are not read.
ALTER TABLE ledger ADD CONSTRAINT ledger_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;
