-- The hazard: validated in place, so every ledger row is checked while SHARE ROW EXCLUSIVE blocks writes.
ALTER TABLE ledger ADD CONSTRAINT ledger_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
